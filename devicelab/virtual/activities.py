"""Which activity a package launches, and which packages are home screens and setup
wizards. Package manifests are not modelled, so the lab's packages are listed here."""

from __future__ import annotations

#: package -> launcher activity (short form allowed: `.Settings`).
LAUNCHER_ACTIVITIES = {
    "com.android.settings": ".Settings",
    "com.hmdglobal.camera2": "com.android.camera.CameraLauncher",
    "com.android.vending": ".AssetBrowserActivity",
    "com.google.android.apps.nexuslauncher": ".NexusLauncherActivity",
    "com.evenwell.launcher": "com.android.launcher3.Launcher",
}

#: Home screens, best first.
HOME_ACTIVITIES = {
    "com.google.android.apps.nexuslauncher": ".NexusLauncherActivity",
    "com.evenwell.launcher": "com.android.launcher3.Launcher",
}

#: Setup wizards, best first: the first boot after a wipe shows one until setup completes.
SETUP_ACTIVITIES = {
    "com.google.android.setupwizard": ".SetupWizardActivity",
    "com.evenwell.SetupWizard": ".SetupWizardActivity",
}

#: Used when a build has no known home screen (stock AOSP launcher).
FALLBACK_HOME = "com.android.launcher3/.Launcher"


def full_component(component: str) -> str:
    """`pkg/.Act` -> `pkg/pkg.Act` (window titles and `dumpsys` use the long form)."""
    package, _, activity = component.partition("/")
    if activity.startswith("."):
        activity = package + activity
    return f"{package}/{activity}"


def short_component(component: str) -> str:
    """`pkg/pkg.Act` -> `pkg/.Act` (what `am` prints)."""
    package, _, activity = component.partition("/")
    if activity.startswith(package + "."):
        activity = activity[len(package) :]
    return f"{package}/{activity}"
