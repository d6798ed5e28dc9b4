"""Contracts: coaches' proposals, the contracts students take from them, their payment status."""
