"""The fastboot target of a virtual handset: the TCP framing (`protocol`), Android sparse images
(`sparse`), the bootloader's variables (`variables`) and its commands (`commands`).

The server that owns the listening socket is `devicelab.virtual.fastbootd.FastbootTarget`.
"""
