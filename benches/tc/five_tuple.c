// The reference for flowtrace's tc code: the work of
//   tc:lo:ingress { @pkts[saddr, daddr, sport, dport, proto] = count();
//                   @bytes[saddr, daddr, sport, dport, proto] = sum(len); }
// written by hand in C and compiled with clang -O2: the same header parse
// (Ethernet, two VLAN tags, IPv4 with options, IPv6 with up to four
// extension headers, TCP/UDP ports) with direct packet access, and the same
// two per-CPU hash maps keyed by the 5-tuple (lookup, insert if missing,
// add in place). Built twice: with a compact 40-byte key, and with
// -DFLOWTRACE_KEY, flowtrace's 48-byte key layout (the same bytes hashed).
// Built a third time with -DFLOWTRACE_KEY -DONE_MAP: the program a C
// programmer writes for the runbook (examples/tc-top-talkers.ft, lruhash
// maps): packets and bytes in one value of one per-CPU LRU hash map, one
// lookup per packet.
// Written for this repository; no libbpf headers needed.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

#define BPF_MAP_TYPE_PERCPU_HASH 5
#define BPF_MAP_TYPE_LRU_PERCPU_HASH 10
#define BPF_NOEXIST 1
#define TC_ACT_UNSPEC (-1)

struct __sk_buff {
	__u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto, priority,
	    ingress_ifindex, ifindex, tc_index, cb[5], hash, tc_classid, data, data_end;
};

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;

#ifdef FLOWTRACE_KEY
// flowtrace's key layout (codegen/src/layout.rs, key_offsets): each inet is
// its 16 address bytes and a family byte, aligned to 8; ports and protocol
// at their width. Same bytes hashed and compared as flowtrace's.
struct flow {
	__u8 saddr[16];
	__u8 sfamily, pad0[7];
	__u8 daddr[16];
	__u8 dfamily, pad1;
	__u16 sport, dport;
	__u8 proto, pad[1];
};
#define SET_FAMILY(k, f) ((k).sfamily = (k).dfamily = (f))
#else
// The compact key a C programmer would choose.
struct flow {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport;
	__u8 proto, pad[3];
};
#define SET_FAMILY(k, f) ((void)0)
#endif

#ifdef ONE_MAP
struct counters {
	__u64 pkts, bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct flow);
	__type(value, struct counters);
} flows SEC(".maps");

static __attribute__((always_inline)) void count(struct flow *k, __u64 len)
{
	struct counters *c = bpf_map_lookup_elem(&flows, k);
	if (!c) {
		struct counters zero = {};
		bpf_map_update_elem(&flows, k, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&flows, k);
		if (!c)
			return;
	}
	c->pkts += 1;
	c->bytes += len;
}
#else
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct flow);
	__type(value, __u64);
} pkts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct flow);
	__type(value, __u64);
} bytes SEC(".maps");

static __attribute__((always_inline)) void add(void *map, struct flow *k, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(map, k);
	if (!p) {
		__u64 zero = 0;
		bpf_map_update_elem(map, k, &zero, BPF_NOEXIST);
		p = bpf_map_lookup_elem(map, k);
		if (!p)
			return;
	}
	*p += v;
}

static __attribute__((always_inline)) void count(struct flow *k, __u64 len)
{
	add(&pkts, k, 1);
	add(&bytes, k, len);
}
#endif

SEC("classifier")
int count_flows(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct flow k = {};
	__u8 *p = data;
	if (p + 14 > (__u8 *)end)
		goto out;
	__u16 et = *(__u16 *)(p + 12);
	__u32 off = 14;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (et != __builtin_bswap16(0x8100) && et != __builtin_bswap16(0x88a8))
			break;
		if (p + off + 4 > (__u8 *)end)
			goto out;
		et = *(__u16 *)(p + off + 2);
		off += 4;
	}
	__u8 proto;
	if (et == __builtin_bswap16(0x0800)) {
		__u8 *ip = p + off;
		if (ip + 20 > (__u8 *)end || (ip[0] >> 4) != 4 || (ip[0] & 15) < 5)
			goto out;
		proto = ip[9];
		SET_FAMILY(k, 2);
		__builtin_memcpy(k.saddr, ip + 12, 4);
		__builtin_memcpy(k.daddr, ip + 16, 4);
		off += (ip[0] & 15) * 4;
		if (*(__u16 *)(ip + 6) & __builtin_bswap16(0x1fff))
			goto count;
	} else if (et == __builtin_bswap16(0x86dd)) {
		__u8 *ip = p + off;
		if (ip + 40 > (__u8 *)end)
			goto out;
		proto = ip[6];
		SET_FAMILY(k, 10);
		__builtin_memcpy(k.saddr, ip + 8, 16);
		__builtin_memcpy(k.daddr, ip + 24, 16);
		off += 40;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (proto != 0 && proto != 43 && proto != 60 && proto != 44 && proto != 51)
				break;
			__u8 *h = p + off;
			if (h + 8 > (__u8 *)end)
				goto out;
			__u8 next = h[0];
			if (proto == 44) {
				off += 8;
				if (*(__u16 *)(h + 2) & __builtin_bswap16(0xfff8)) {
					proto = next;
					goto count;
				}
			} else if (proto == 51) {
				off += (h[1] + 2) * 4;
			} else {
				off += (h[1] + 1) * 8;
			}
			proto = next;
			if (off > 1024)
				goto out;
		}
	} else {
		goto out;
	}
	if (proto == 6 || proto == 17) {
		__u8 *l4 = p + off;
		if (l4 + (proto == 6 ? 20 : 8) > (__u8 *)end)
			goto out;
		k.sport = __builtin_bswap16(*(__u16 *)l4);
		k.dport = __builtin_bswap16(*(__u16 *)(l4 + 2));
	}
count:
	k.proto = proto;
	count(&k, skb->len);
out:
	return TC_ACT_UNSPEC;
}

char _license[] SEC("license") = "GPL";
