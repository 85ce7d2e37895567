"""The flash storage of a virtual handset: A/B partitions as fastboot sees them."""

from __future__ import annotations

from dataclasses import dataclass, field

MiB = 1024 * 1024
GiB = 1024 * MiB

#: Partitions of the Nokia 7 plus (sdm660, A/B, no dynamic partitions) and their sizes.
SLOTTED = {"boot": 64 * MiB, "system": 3 * GiB, "vendor": 1 * GiB, "vbmeta": 64 * 1024, "dtbo": 8 * MiB}
UNSLOTTED = {"userdata": 52 * GiB, "metadata": 16 * MiB, "misc": 1 * MiB, "persist": 32 * MiB}
SLOTS = ("a", "b")


@dataclass
class Storage:
    """Partitions, slot metadata and the bootloader's device-info flags (kept in `devinfo` on a
    Qualcomm handset, so they survive reboots and flashing)."""

    current_slot: str = "a"
    unlocked: bool = True
    #: `flashing unlock` is refused unless "OEM unlocking" was allowed (the frp partition flag)
    unlock_allowed: bool = True
    unlock_critical: bool = False
    charger_screen: bool = True
    verity_enforcing: bool = True
    #: partition name (with slot suffix where slotted) -> contents
    images: dict[str, bytes] = field(default_factory=dict)
    #: bumped each time userdata is erased, so the running system knows to start over
    userdata_generation: int = 0
    slot_retry: dict[str, int] = field(default_factory=lambda: {s: 7 for s in SLOTS})
    slot_successful: dict[str, bool] = field(default_factory=lambda: {s: True for s in SLOTS})

    @staticmethod
    def partition_names() -> list[str]:
        names = [f"{p}_{s}" for p in SLOTTED for s in SLOTS]
        return names + list(UNSLOTTED)

    @staticmethod
    def size_of(partition: str) -> int | None:
        base, _, slot = partition.rpartition("_")
        if slot in SLOTS and base in SLOTTED:
            return SLOTTED[base]
        return UNSLOTTED.get(partition)

    @staticmethod
    def has_slot(base: str) -> bool:
        return base in SLOTTED

    def resolve(self, partition: str) -> str:
        """`system` -> `system_a` on the current slot; names with a suffix stay as they are."""
        if partition in SLOTTED:
            return f"{partition}_{self.current_slot}"
        return partition

    def write(self, partition: str, data: bytes) -> None:
        name = self.resolve(partition)
        if self.size_of(name) is None:
            raise KeyError(partition)
        self.images[name] = data
        if name == "userdata":
            self.userdata_generation += 1

    def erase(self, partition: str) -> None:
        name = self.resolve(partition)
        if self.size_of(name) is None:
            raise KeyError(partition)
        self.images.pop(name, None)
        if name in ("userdata", "metadata"):
            self.userdata_generation += 1

    def read(self, partition: str) -> bytes:
        return self.images.get(self.resolve(partition), b"")

    def slot_unbootable(self, slot: str) -> bool:
        return self.slot_retry[slot] == 0 and not self.slot_successful[slot]

    def set_active(self, slot: str) -> None:
        if slot not in SLOTS:
            raise KeyError(slot)
        self.current_slot = slot
        self.slot_retry[slot] = 7
        self.slot_successful[slot] = False
