"""Credential sources, one module each, consulted in order by ``helper.chain``."""
