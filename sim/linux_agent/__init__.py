"""Linux host DUT agent: the kernel's TCP behind the bench console protocol (v1) on a pty.

The lab starts it inside the DUT's network namespace; the bench talks to it exactly as it
would talk to a board's serial console (see docs/console-protocol.md).
"""
