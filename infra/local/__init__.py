"""The local stack: provisioning on moto, the API Gateway emulation and the event pump."""
