"""The radio side of a virtual handset as Android 9's telephony framework exposes it: the
IPhoneSubInfo binder service (IMEI, IMSI, ICCID, line 1) and TelephonyRegistry's state (serving
cell, service state). Identities come from the hardware (IMEIs) and the SIM profile; the
Nokia 7 plus is dual-SIM (DSDS) with the lab's SIM in slot 0 and slot 1 empty."""

from __future__ import annotations

from devicelab.android import iphonesubinfo
from devicelab.virtual.android import AndroidSystem
from devicelab.virtual.binder import Parcel, string_reply

PHONE_COUNT = 2
#: subId of the SIM in slot 0 (Android numbers subscriptions from 1)
SUB_ID = 1
IMEI_SVN = "01"
EARFCN = 1850  # band 3
INT_MAX = 2147483647


def phone_id_for_sub(system: AndroidSystem, sub_id: int) -> int:
    """PhoneSubInfoController.getPhone(): the lab's SIM (subId 1) is in slot 0, and an unknown
    subId falls back to phone 0 as well."""
    return 0


def sim_values(system: AndroidSystem, phone_id: int) -> dict[str, str | None]:
    """What each IPhoneSubInfo getter returns for a phone (slot)."""
    hardware = system.hardware
    sim = system.radio.sim if phone_id == 0 else None
    return {
        "imei": hardware.imei1 if phone_id == 0 else hardware.imei2,
        "svn": IMEI_SVN,
        "imsi": sim.imsi if sim else None,
        "iccid": sim.iccid if sim else None,
        "line1": sim.msisdn if sim else None,
        "gid1": None,
        "alpha": None,
        "voicemail": None,
    }


_GETTER = {
    "getDeviceId": "imei", "getDeviceIdForPhone": "imei", "getImeiForSubscriber": "imei",
    "getDeviceSvn": "svn", "getDeviceSvnUsingSubId": "svn",
    "getSubscriberId": "imsi", "getSubscriberIdForSubscriber": "imsi",
    "getGroupIdLevel1": "gid1", "getGroupIdLevel1ForSubscriber": "gid1",
    "getIccSerialNumber": "iccid", "getIccSerialNumberForSubscriber": "iccid",
    "getLine1Number": "line1", "getLine1NumberForSubscriber": "line1",
    "getMsisdn": "line1", "getMsisdnForSubscriber": "line1",
    "getLine1AlphaTag": "alpha", "getLine1AlphaTagForSubscriber": "alpha",
    "getVoiceMailNumber": "voicemail", "getVoiceMailNumberForSubscriber": "voicemail",
    "getNaiForSubscriber": "nai",
}


def phonesubinfo_transact(system: AndroidSystem, code: int, ints: list[int], uid: int) -> bytes | None:
    """The reply Parcel of `iphonesubinfo` transaction `code`; None for an unknown code."""
    sdk = int(system.getprop("ro.build.version.sdk") or "28")
    method = iphonesubinfo.method_name(code, sdk if sdk in iphonesubinfo.TRANSACTIONS else 28)
    if method is None:
        return None
    if uid not in (0, 1000, 1001, 2000):  # only privileged callers read identifiers
        return bytes(Parcel().write_exception(-1, f"{method}: Neither user {uid} nor current process has "
                                              "android.permission.READ_PHONE_STATE.").data)
    argument = ints[0] if ints else 0
    if method == "getDeviceIdForPhone":
        phone_id = argument if 0 <= argument < PHONE_COUNT else 0
    elif method in iphonesubinfo.INT_ARGUMENT:
        phone_id = phone_id_for_sub(system, argument)
    else:
        phone_id = 0
    return string_reply(sim_values(system, phone_id).get(_GETTER.get(method, ""), None))


# -- TelephonyRegistry ---------------------------------------------------------------------------
def in_service(system: AndroidSystem, phone_id: int) -> bool:
    return (phone_id == 0 and system.radio.sim is not None
            and system.settings("global").get("airplane_mode_on", "0") == "0")


def service_state(system: AndroidSystem, phone_id: int) -> str:
    """ServiceState.toString() of Android 9."""
    sim = system.radio.sim
    if system.settings("global").get("airplane_mode_on", "0") != "0":
        reg, tech, emergency = "3(POWER_OFF)", "0(Unknown)", "false"
    elif in_service(system, phone_id):
        reg, tech, emergency = "0(IN_SERVICE)", "14(LTE)", "false"
    else:
        reg, tech, emergency = "1(OUT_OF_SERVICE)", "0(Unknown)", "true"
    serving = sim if in_service(system, phone_id) else None
    name = serving.operator if serving else "null"
    numeric = serving.mccmnc if serving else "null"
    return (
        f"{{mVoiceRegState={reg}, mDataRegState={reg}, mChannelNumber={EARFCN if serving else -1}, "
        f"duplexMode()={1 if serving else 0}, mCellBandwidths=[], mVoiceRoamingType=home, mDataRoamingType=home, "
        f"mVoiceOperatorAlphaLong={name}, mVoiceOperatorAlphaShort={name}, mVoiceOperatorNumeric={numeric}, "
        f"mDataOperatorAlphaLong={name}, mDataOperatorAlphaShort={name}, mDataOperatorNumeric={numeric}, "
        f"isManualNetworkSelection=false(automatic), mRilVoiceRadioTechnology={tech}, "
        f"mRilDataRadioTechnology={tech}, mCssIndicator=unsupported, mNetworkId=-1, mSystemId=-1, "
        f"mCdmaRoamingIndicator=-1, mCdmaDefaultRoamingIndicator=-1, mIsEmergencyOnly={emergency}, "
        f"mIsDataRoamingFromRegistration=false, mIsUsingCarrierAggregation=false, mLteEarfcnRsrpBoost=0}}"
    )


def cell_identity(system: AndroidSystem) -> str:
    """CellIdentityLte.toString() of the serving cell (empty without service)."""
    sim = system.radio.sim
    if sim is None or not in_service(system, 0):
        return ""
    cell = sim.cell
    return (f"CellIdentityLte:{{ mCi={cell.eci} mPci={cell.pci} mTac={cell.tac} mEarfcn={EARFCN} "
            f"mBandwidth={INT_MAX} mMcc={sim.mcc} mMnc={sim.mnc} mAlphaLong={sim.operator} "
            f"mAlphaShort={sim.operator}}}")


def registry_dump(system: AndroidSystem) -> str:
    """`dumpsys telephony.registry`."""
    lines = ["last known state:"]
    now_ns = int(system.clock.elapsed_realtime() * 1e9)
    for phone_id in range(PHONE_COUNT):
        serving = in_service(system, phone_id)
        identity = cell_identity(system) if phone_id == 0 else ""
        cells = (f"[CellInfoLte:{{mRegistered=YES mTimeStamp={now_ns}ns mCellConnectionStatus=0 {identity} "
                 f"CellSignalStrengthLte: ss=25 rsrp=-96 rsrq=-11 rssnr=204 cqi={INT_MAX} ta={INT_MAX}}}]"
                 if identity else "[]")
        sim = system.radio.sim
        location = (f"Bundle[{{mPsc=-1, mCid={sim.cell.eci}, mLac={sim.cell.tac}}}]" if identity and sim
                    else "Bundle[{mPsc=-1, mCid=-1, mLac=-1}]")
        data_state = 2 if serving and system.radio.mobile_data else 0
        signal = ("SignalStrength: 99 0 -120 -160 -120 -1 -1 25 -96 -11 204 2147483647 0 2147483647 99 2147483647 "
                  "gsm|lte use_rsrp_and_rssnr_for_lte_level  [-128, -118, -108, -98] [-115, -105, -95, -85]"
                  if serving else "SignalStrength: 99 0 -120 -160 -120 -1 -1 99 2147483647 2147483647 2147483647 "
                  "2147483647 0 2147483647 99 2147483647 gsm|lte use_rsrp_and_rssnr_for_lte_level  "
                  "[-128, -118, -108, -98] [-115, -105, -95, -85]")
        lines += [
            f"  Phone Id={phone_id}",
            "    mCallState=0",
            "    mCallIncomingNumber=",
            f"    mServiceState={service_state(system, phone_id)}",
            "    mVoiceActivationState= 0",
            "    mDataActivationState= 0",
            f"    mUserMobileDataState= {str(system.radio.mobile_data).lower()}",
            f"    mSignalStrength={signal}",
            "    mMessageWaiting=false",
            "    mCallForwarding=false",
            "    mDataActivity=0",
            f"    mDataConnectionState={data_state}",
            f"    mCellLocation={location}",
            f"    mCellInfo={cells}",
            "    mSrvccState=-1",
            "    mCallPreciseDisconnectCause=-1",
            "    mCallDisconnectCause=-1",
            "    mRingingCallState=0",
            "    mForegroundCallState=0",
            "    mBackgroundCallState=0",
        ]
    lines += [
        "  mCarrierNetworkChangeState=false",
        "  mRingingCallState=0",
        "  mForegroundCallState=0",
        "  mBackgroundCallState=0",
        "  mPreciseDisconnectCause=-1",
        "  mDisconnectCause=-1",
        "local logs:",
        "registrations: count=3",
        "  {callingPackage=com.android.systemui callerUid=10023 subId=1 phoneId=0 events=1e1}",
        "  {callingPackage=com.android.phone callerUid=1001 subId=1 phoneId=0 events=c0}",
        "  {callingPackage=android callerUid=1000 subId=2147483647 phoneId=0 events=1}",
    ]
    return "\n".join(lines) + "\n"
