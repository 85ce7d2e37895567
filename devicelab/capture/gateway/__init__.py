"""The lab gateway: devicelab is the handsets' router (capture mode `gateway`).

    netns      the namespaces and veth pairs (pyroute2), their removal and the sweep of stale ones
    nsthread   a worker thread that lives in one namespace (sockets, netlink, nft are made there)
    nft        the gateway's nftables table through libnftables
    packets    the packet record: a pcap and a connection table per handset (AF_PACKET)
    resolver   the gateway's DNS resolver: logs every query, answers from the lab's upstream
    privilege  the CAP_NET_ADMIN check (a clear error, exit 3)
    interface  the gateway on a physical lab's own interface (hostapd, USB tether, VLAN): the same
               rules, resolver, relay and record, on the interface the inventory names
"""
