from tests.lab.conftest import private_adb_port

__all__ = ["private_adb_port"]
