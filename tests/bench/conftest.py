from tests.control.conftest import private_adb_port

__all__ = ["private_adb_port"]
