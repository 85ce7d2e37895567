"""The virtual handset's network: a lab-local internet (DNS, HTTP and TLS responders standing in
for real hosts), the device's HTTP client, and the apps of each build that talk to it.

- internet.py   VirtualInternet: one loopback responder per host (plain HTTP and TLS on one
                port), the lab DNS (dns.py), the root CA (pki.py); `upstream_hosts()` and
                `root_ca_pem_path()` are what a capture proxy routes and trusts with.
- responders.py how each host answers (checkin protobuf, zzhc JSON, 204 probes, ...).
- stack.py      HandsetNetwork: the handset's hooks (boot, shutdown, SIM), the build's traffic
                on the device clock (scheduler.py, triggers.py), conditions and consent.
- httpclient.py the device's HTTP client: proxy setting, system CA trust, pinning, /proc/net rows.
- apps.py       what each payload kind sends and logs; checkin.py and zzhc.py are the formats.
- browser.py    `am start -a VIEW -d URL`: the browser's page load.

Hosts: Google's, China Telecom's zzhc.vnet.cn and Qualcomm's XTRA hosts are real names. The
hmdglobal.com hosts (activation., analytics., push.) are VIRTUAL stand-ins: HMD's real endpoints
are not public. example.com/.org/.net answer as IANA's example page (for canary URLs).
"""
