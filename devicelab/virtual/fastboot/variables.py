"""What `fastboot getvar` reports: the variables a Qualcomm ABL bootloader publishes, computed
from the handset's storage and the build its bootloader came with.

Every partition reports type `raw`, as ABL does for partitions without a file system signature
it recognises: `fastboot -w` then erases userdata and metadata without running `mke2fs`, which
Debian's fastboot cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass

from devicelab.model.builds import Bootloader
from devicelab.virtual.storage import SLOTS, SLOTTED, UNSLOTTED, Storage

#: The board name of the hardware: what `getvar product` says even with no build installed.
HARDWARE_PRODUCT = "B2N"
#: A bootloader with nothing known about its build (the board is all that is certain).
UNKNOWN_BOOTLOADER = Bootloader(product=HARDWARE_PRODUCT, version_bootloader="unknown", version_baseband="unknown")
#: Variables with a partition name after the colon; ABL appends the current slot to them.
PARTITION_QUERIES = ("partition-size", "partition-type", "is-logical")


@dataclass(frozen=True)
class TargetFacts:
    """What the bootloader knows about itself, beyond the storage."""

    serialno: str
    bootloader: Bootloader
    max_download_size: int


def all_variables(facts: TargetFacts, storage: Storage) -> dict[str, str]:
    """Every variable, in the order `getvar all` lists them."""
    boot = facts.bootloader
    yes_no = {True: "yes", False: "no"}
    found: dict[str, str] = {
        "version": "0.4",
        "version-bootloader": boot.version_bootloader,
        "version-baseband": boot.version_baseband,
        "product": boot.product,
        "serialno": facts.serialno,
        "secure": yes_no[boot.secure],
        "unlocked": yes_no[storage.unlocked],
        "max-download-size": f"0x{facts.max_download_size:08x}",
        "kernel": "uefi",
        "variant": "SDM EMMC",
        "is-userspace": "no",
        "charger-screen-enabled": str(int(storage.charger_screen)),
        "off-mode-charge": str(int(storage.charger_screen)),
        "slot-count": str(len(SLOTS)),
        "slot-suffixes": ",".join(f"_{s}" for s in SLOTS),
        "current-slot": storage.current_slot,
    }
    for slot in SLOTS:
        found[f"slot-successful:{slot}"] = yes_no[storage.slot_successful[slot]]
        found[f"slot-unbootable:{slot}"] = yes_no[storage.slot_unbootable(slot)]
        found[f"slot-retry-count:{slot}"] = str(storage.slot_retry[slot])
    for base in (*SLOTTED, *UNSLOTTED):
        found[f"has-slot:{base}"] = yes_no[base in SLOTTED]
    for name in Storage.partition_names():
        size = Storage.size_of(name)
        assert size is not None  # every listed name has a size
        found[f"partition-size:{name}"] = f"0x{size:x}"
        found[f"partition-type:{name}"] = "raw"
        found[f"is-logical:{name}"] = "no"
    return found


def getvar(name: str, facts: TargetFacts, storage: Storage) -> str | None:
    """The value of one variable, or None when the bootloader does not know it."""
    known = all_variables(facts, storage)
    if name in known:
        return known[name]
    query, _, partition = name.partition(":")
    if query in PARTITION_QUERIES and partition in SLOTTED:
        return known.get(f"{query}:{partition}_{storage.current_slot}")
    return None
