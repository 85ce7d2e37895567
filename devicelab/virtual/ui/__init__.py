"""The virtual handset's screen and its uiautomator2 server.

The screen (device.py) shows the setup wizard of the build's family (fixtures/wizards/) until
it completes, then the launcher; views.py and chrome.py build its view trees, render.py paints
them. The u2 server (app_process.py, server.py, rpc.py, methods.py, objects.py) serves it
over JSON-RPC as `app_process / com.wetest.uia2.Main`. hooks.py is what other parts call.

This package file imports nothing, so `devicelab.virtual.ui.display` stays cheap to import.
"""
