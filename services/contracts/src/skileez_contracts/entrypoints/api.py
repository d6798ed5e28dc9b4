"""The contracts API: every route is declared on this one object, which also describes it."""

from skileez_web.openapi import Api

api = Api(title="Skileez contracts")
