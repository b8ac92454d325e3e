// SPDX-License-Identifier: Apache-2.0
/*
 * The container's network for its VM, Kata Containers' model: in the
 * network namespace the engine prepared (podman's bridge network, CNI),
 * a TAP for ember's virtio-net, joined to the engine's interface by tc
 * redirects both ways (ingress qdiscs, u32 match-all filters, mirred
 * egress redirect). The interface keeps its addresses in the namespace;
 * the guest takes its MAC, MTU, addresses and routes, so to the engine's
 * bridge the VM is the container. No interface (only lo): no NIC.
 * Netlink through libnl-route-3.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/addr.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oci.h"

static int ifindex_of(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), idx = 0;

	if (s < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFINDEX, &ifr) == 0)
		idx = ifr.ifr_ifindex;
	close(s);
	return idx;
}

static int set_link(const char *name, unsigned mtu, struct ember_err *err)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (s < 0)
		return err_errno(err, "socket");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (mtu) {
		ifr.ifr_mtu = (int)mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			ret = err_errno(err, "setting the MTU of %s to %u", name, mtu);
	}
	if (!ret && ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		ret = err_errno(err, "SIOCGIFFLAGS %s", name);
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		ret = err_errno(err, "bringing %s up", name);
	close(s);
	return ret;
}

int oci_net_tap_create(const char *name, unsigned mtu, struct ember_err *err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return err_errno(err, "opening /dev/net/tun");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
		err_errno(err, "creating the TAP %s", name);
		close(fd);
		return -err->code;
	}
	close(fd);
	return set_link(name, mtu, err);
}

int oci_net_tap_delete(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), ret = -1;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) == 0 && ioctl(fd, TUNSETPERSIST, 0) == 0)
		ret = 0;
	close(fd);
	return ret;
}

int oci_net_enter(const struct oci_spec *s, struct ember_err *err)
{
	int fd;

	if (s->netns_new)
		return unshare(CLONE_NEWNET) < 0 ? err_errno(err, "unshare(CLONE_NEWNET)") : 0;
	if (!s->netns_path)
		return err_set(err, ENOTSUP,
			       "the container shares the host's network namespace: a VM cannot; "
			       "give it a network namespace of its own (a bridge network, CNI, or "
			       "none)");
	fd = open(s->netns_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(err, "opening the network namespace %s", s->netns_path);
	if (setns(fd, CLONE_NEWNET) < 0) {
		err_errno(err, "joining the network namespace %s", s->netns_path);
		close(fd);
		return -err->code;
	}
	close(fd);
	return 0;
}

/* ---- what the namespace holds ---- */

struct scan {
	struct nl_sock *sk;
	struct nl_cache *links, *addrs, *routes;
	struct rtnl_link *iface; /* the engine's interface (not lo, not our TAP) */
	int n;                   /* how many such interfaces */
};

static void pick_iface(struct nl_object *o, void *arg)
{
	struct scan *sc = arg;
	struct rtnl_link *l = (struct rtnl_link *)o;
	const char *name = rtnl_link_get_name(l);

	if ((rtnl_link_get_flags(l) & IFF_LOOPBACK) || !name || !strcmp(name, OCI_TAP_NAME))
		return;
	if (!sc->n++)
		sc->iface = l;
}

static int scan_open(struct scan *sc, struct ember_err *err)
{
	memset(sc, 0, sizeof(*sc));
	sc->sk = nl_socket_alloc();
	if (!sc->sk || nl_connect(sc->sk, NETLINK_ROUTE) < 0)
		return err_set(err, EIO, "netlink: cannot connect");
	if (rtnl_link_alloc_cache(sc->sk, AF_UNSPEC, &sc->links) < 0 ||
	    rtnl_addr_alloc_cache(sc->sk, &sc->addrs) < 0 ||
	    rtnl_route_alloc_cache(sc->sk, AF_UNSPEC, 0, &sc->routes) < 0)
		return err_set(err, EIO, "netlink: cannot read the links, addresses and routes");
	nl_cache_foreach(sc->links, pick_iface, sc);
	return 0;
}

static void scan_close(struct scan *sc)
{
	nl_cache_free(sc->routes);
	nl_cache_free(sc->addrs);
	nl_cache_free(sc->links);
	nl_socket_free(sc->sk);
}

struct collect {
	int ifindex;
	json_t *list;
};

/* Addresses of the interface, without link-local ones. */
static void add_addr(struct nl_object *o, void *arg)
{
	struct collect *c = arg;
	struct rtnl_addr *a = (struct rtnl_addr *)o;
	char text[INET6_ADDRSTRLEN + 8];

	if (rtnl_addr_get_ifindex(a) != c->ifindex || rtnl_addr_get_scope(a) == RT_SCOPE_LINK ||
	    !rtnl_addr_get_local(a))
		return;
	nl_addr2str(rtnl_addr_get_local(a), text, sizeof(text));
	if (!strchr(text, '/'))
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "/%d",
			 rtnl_addr_get_prefixlen(a));
	json_array_append_new(c->list, json_string(text));
}

/* Routes of the main table through the interface, without the prefix
 * routes the kernel makes for each address (the guest's kernel makes its
 * own). */
static void add_route(struct nl_object *o, void *arg)
{
	struct collect *c = arg;
	struct rtnl_route *r = (struct rtnl_route *)o;
	struct rtnl_nexthop *nh;
	char dst[INET6_ADDRSTRLEN + 8], gw[INET6_ADDRSTRLEN + 8] = "";
	json_t *route;

	if (rtnl_route_get_table(r) != RT_TABLE_MAIN ||
	    rtnl_route_get_protocol(r) == RTPROT_KERNEL || rtnl_route_get_type(r) != RTN_UNICAST ||
	    rtnl_route_get_nnexthops(r) != 1)
		return;
	nh = rtnl_route_nexthop_n(r, 0);
	if (rtnl_route_nh_get_ifindex(nh) != c->ifindex)
		return;
	if (!rtnl_route_get_dst(r) || nl_addr_get_prefixlen(rtnl_route_get_dst(r)) == 0)
		snprintf(dst, sizeof(dst), "default");
	else
		nl_addr2str(rtnl_route_get_dst(r), dst, sizeof(dst));
	if (rtnl_route_nh_get_gateway(nh))
		nl_addr2str(rtnl_route_nh_get_gateway(nh), gw, sizeof(gw));
	if (rtnl_route_get_family(r) == AF_INET6 && !strncmp(dst, "fe80", 4))
		return;
	route = json_pack("{s:s}", "dst", dst);
	if (gw[0])
		json_object_set_new(route, "gw", json_string(gw));
	json_array_append_new(c->list, route);
}

static json_t *guest_iface(struct scan *sc)
{
	struct rtnl_link *l = sc->iface;
	struct collect addrs = { rtnl_link_get_ifindex(l), json_array() };
	struct collect routes = { rtnl_link_get_ifindex(l), json_array() };
	char mac[32];

	nl_cache_foreach(sc->addrs, add_addr, &addrs);
	nl_cache_foreach(sc->routes, add_route, &routes);
	nl_addr2str(rtnl_link_get_addr(l), mac, sizeof(mac));
	return json_pack("{s:s, s:s, s:i, s:o, s:o}", "ifname", "eth0", "mac", mac, "mtu",
			 (int)rtnl_link_get_mtu(l), "addresses", addrs.list, "routes", routes.list);
}

/* ---- tc: ingress of each side redirected to the other's egress ---- */

static int add_ingress(struct nl_sock *sk, int ifindex)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int ret;

	if (!q)
		return -NLE_NOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_INGRESS);
	rtnl_tc_set_handle(TC_CAST(q), TC_H_MAKE(TC_H_INGRESS, 0));
	ret = rtnl_tc_set_kind(TC_CAST(q), "ingress");
	if (!ret)
		ret = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_qdisc_put(q);
	return ret;
}

static int add_redirect(struct nl_sock *sk, int from, int to)
{
	struct rtnl_cls *cls = rtnl_cls_alloc();
	struct rtnl_act *act = rtnl_act_alloc();
	int ret = !cls || !act ? -NLE_NOMEM : 0;

	if (!ret) {
		rtnl_tc_set_ifindex(TC_CAST(cls), from);
		rtnl_tc_set_parent(TC_CAST(cls), TC_H_MAKE(TC_H_INGRESS, 0));
		rtnl_cls_set_protocol(cls, ETH_P_ALL);
		rtnl_cls_set_prio(cls, 1);
		ret = rtnl_tc_set_kind(TC_CAST(cls), "u32");
	}
	if (!ret)
		ret = rtnl_u32_add_key_uint32(cls, 0, 0, 0, 0); /* match everything */
	if (!ret) /* the match ends the search and runs the action, as tc's u32 does */
		ret = rtnl_u32_set_cls_terminal(cls);
	if (!ret)
		ret = rtnl_tc_set_kind(TC_CAST(act), "mirred");
	if (!ret) {
		rtnl_mirred_set_action(act, TCA_EGRESS_REDIR);
		rtnl_mirred_set_policy(act, TC_ACT_STOLEN);
		rtnl_mirred_set_ifindex(act, (uint32_t)to);
		ret = rtnl_u32_add_action(cls, act);
	}
	if (!ret)
		ret = rtnl_cls_add(sk, cls, NLM_F_CREATE);
	if (act)
		rtnl_act_put(act);
	if (cls)
		rtnl_cls_put(cls);
	return ret;
}

static void del_ingress(struct nl_sock *sk, int ifindex)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	if (!q)
		return;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_INGRESS);
	rtnl_tc_set_handle(TC_CAST(q), TC_H_MAKE(TC_H_INGRESS, 0));
	rtnl_qdisc_delete(sk, q);
	rtnl_qdisc_put(q);
}

static int join(struct scan *sc, int iface, int tap, struct ember_err *err)
{
	int ret = add_ingress(sc->sk, iface);

	if (!ret)
		ret = add_ingress(sc->sk, tap);
	if (!ret)
		ret = add_redirect(sc->sk, iface, tap);
	if (!ret)
		ret = add_redirect(sc->sk, tap, iface);
	if (ret < 0)
		return err_set(err, EIO,
			       "tc: redirecting between %s and the TAP: %s (the host needs the "
			       "sch_ingress, cls_u32 and act_mirred modules)",
			       rtnl_link_get_name(sc->iface), nl_geterror(ret));
	return 0;
}

int oci_net_setup(json_t **net, char *iface, size_t size, struct ember_err *err)
{
	struct scan sc;
	int tap, ret;

	*net = NULL;
	iface[0] = '\0';
	if (scan_open(&sc, err) < 0) {
		scan_close(&sc);
		return -err->code;
	}
	if (sc.n > 1) {
		scan_close(&sc);
		return err_set(err, ENOTSUP,
			       "%d interfaces in the container's network namespace: ember-oci "
			       "gives the VM one",
			       sc.n);
	}
	if (!sc.n) { /* only lo: no NIC */
		scan_close(&sc);
		return 0;
	}
	snprintf(iface, size, "%s", rtnl_link_get_name(sc.iface));
	ret = oci_net_tap_create(OCI_TAP_NAME, rtnl_link_get_mtu(sc.iface), err);
	tap = ret ? 0 : ifindex_of(OCI_TAP_NAME);
	if (!ret && join(&sc, rtnl_link_get_ifindex(sc.iface), tap, err) < 0)
		ret = -err->code;
	if (!ret)
		*net = json_pack("[o]", guest_iface(&sc));
	scan_close(&sc);
	if (ret)
		oci_net_teardown(iface);
	return ret;
}

void oci_net_teardown(const char *iface)
{
	struct nl_sock *sk;
	int idx = iface && *iface ? ifindex_of(iface) : 0;

	oci_net_tap_delete(OCI_TAP_NAME);
	if (!idx || !(sk = nl_socket_alloc()))
		return;
	if (nl_connect(sk, NETLINK_ROUTE) == 0)
		del_ingress(sk, idx);
	nl_socket_free(sk);
}
