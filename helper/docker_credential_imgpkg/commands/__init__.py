"""The commands, one module each: the protocol verbs (``protocol_verbs``), ``explain``, ``kubelet`` and
``configure``. ``cli`` dispatches to them; nothing here imports ``cli``."""
