"""HTTP plumbing the three services share: settings, JWT access, problem+json, OpenAPI, health."""
