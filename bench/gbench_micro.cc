// SPDX-License-Identifier: MIT
//
// nshm-gbench: google-benchmark microbenchmarks of single-thread costs,
// built with -DNSHM_BUILD_GBENCH=ON. Everything runs in one thread of one
// process, so these are instruction costs with warm caches and no
// cross-core traffic: what a call costs when nothing else is going on. The
// cross-process numbers come from nshm-bench.
//
//   ring/push_pop/<size>         push one element, pop it (inline paths)
//   ring/push_pop_fn/<size>      the same through the out-of-line _fn copies
//   ring/reserve_commit/<size>   reserve+write+commit, peek+read+release
//   ring/burst32/<size>          push_n/pop_n of 32 elements, per element
//   event/notify_no_waiter       nshm_event_notify() with nobody waiting
//   event/notify_fn_no_waiter    the out-of-line copy
//   mutex/lock_unlock            uncontended nshm_mutex_lock + unlock
//
// Every section compiles only when its header is there (the public C headers
// must compile as C++; STYLE.md B.4), so this file builds at any stage of the
// tree.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <unistd.h>

#if __has_include(<nshm/sync.h>)
#include <nshm/sync.h>
#define GB_HAVE_SYNC 1
#endif
#if defined(NSHM_GBENCH_HAVE_RING) && __has_include(<nshm/ring.h>)
#include <nshm/ring.h>
#define GB_HAVE_RING 1
#endif

namespace {

#ifdef GB_HAVE_RING
// A producer handle and a consumer handle of one ring, in this process.
struct RingPair {
	std::string name;
	nshm_ring *prod = nullptr;
	nshm_ring *cons = nullptr;
	nshm_ring_type type{};

	RingPair(uint32_t size, uint32_t capacity)
	{
		static int seq;
		char buf[96];

		std::snprintf(buf, sizeof(buf), "nshm-gbench-%d-%d",
			      static_cast<int>(getpid()), ++seq);
		name = buf;
		type.name = "nshm-gbench element";
		type.version = 1;
		type.size = size;
		type.align = size % 8 == 0 ? 8 : 1;
		int rc = nshm_ring_create(name.c_str(), NSHM_RING_SPSC, &type,
					  capacity, NSHM_RING_PRODUCER,
					  NSHM_PREFAULT, 0600, &prod);
		if (rc == 0)
			rc = nshm_ring_attach(name.c_str(), NSHM_RING_SPSC,
					      &type, NSHM_RING_CONSUMER,
					      NSHM_PREFAULT, &cons);
		if (rc != 0)
			std::fprintf(stderr, "nshm-gbench: ring %s: %s\n",
				     name.c_str(), nshm_strerror(rc));
	}
	~RingPair()
	{
		nshm_ring_close(cons);
		nshm_ring_close(prod);
		nshm_ring_delete(name.c_str());
	}
	bool ok() const { return prod != nullptr && cons != nullptr; }
};

void BM_ring_push_pop(benchmark::State &state)
{
	const auto size = static_cast<uint32_t>(state.range(0));
	RingPair rp(size, 1024);
	std::vector<unsigned char> in(size, 1), out(size);

	if (!rp.ok()) {
		state.SkipWithError("cannot make a ring");
		return;
	}
	for (auto _ : state) {
		benchmark::DoNotOptimize(nshm_ring_push(rp.prod, in.data()));
		benchmark::DoNotOptimize(nshm_ring_pop(rp.cons, out.data()));
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * size);
}

void BM_ring_push_pop_fn(benchmark::State &state)
{
	const auto size = static_cast<uint32_t>(state.range(0));
	RingPair rp(size, 1024);
	std::vector<unsigned char> in(size, 1), out(size);

	if (!rp.ok()) {
		state.SkipWithError("cannot make a ring");
		return;
	}
	for (auto _ : state) {
		benchmark::DoNotOptimize(
			nshm_ring_push_fn(rp.prod, in.data()));
		benchmark::DoNotOptimize(
			nshm_ring_pop_fn(rp.cons, out.data()));
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * size);
}

void BM_ring_reserve_commit(benchmark::State &state)
{
	const auto size = static_cast<uint32_t>(state.range(0));
	RingPair rp(size, 1024);
	uint64_t seq = 0, sum = 0;

	if (!rp.ok()) {
		state.SkipWithError("cannot make a ring");
		return;
	}
	for (auto _ : state) {
		void *slot = nshm_ring_reserve(rp.prod);

		std::memcpy(slot, &seq, sizeof(seq)); // write in place
		nshm_ring_commit(rp.prod);
		const void *got = nshm_ring_peek(rp.cons);
		uint64_t v;

		std::memcpy(&v, got, sizeof(v)); // read in place
		sum += v;
		nshm_ring_release(rp.cons);
		seq++;
	}
	benchmark::DoNotOptimize(sum);
	state.SetItemsProcessed(state.iterations());
}

void BM_ring_burst32(benchmark::State &state)
{
	const auto size = static_cast<uint32_t>(state.range(0));
	constexpr uint32_t kBurst = 32;
	RingPair rp(size, 1024);
	std::vector<unsigned char> in(size * kBurst, 1), out(size * kBurst);

	if (!rp.ok()) {
		state.SkipWithError("cannot make a ring");
		return;
	}
	for (auto _ : state) {
		benchmark::DoNotOptimize(
			nshm_ring_push_n(rp.prod, in.data(), kBurst));
		benchmark::DoNotOptimize(
			nshm_ring_pop_n(rp.cons, out.data(), kBurst));
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(state.iterations() * kBurst);
	state.SetBytesProcessed(state.iterations() * kBurst * size);
}

BENCHMARK(BM_ring_push_pop)->Name("ring/push_pop")->Arg(8)->Arg(64)->Arg(256)
	->Arg(1024)->Arg(4096);
BENCHMARK(BM_ring_push_pop_fn)->Name("ring/push_pop_fn")->Arg(8)->Arg(64)
	->Arg(256)->Arg(1024)->Arg(4096);
BENCHMARK(BM_ring_reserve_commit)->Name("ring/reserve_commit")->Arg(8)
	->Arg(64)->Arg(256)->Arg(1024)->Arg(4096);
BENCHMARK(BM_ring_burst32)->Name("ring/burst32")->Arg(8)->Arg(64)->Arg(256);
#endif // GB_HAVE_RING

#ifdef GB_HAVE_SYNC
void BM_event_notify_no_waiter(benchmark::State &state)
{
	alignas(64) static nshm_event ev;

	nshm_event_init(&ev);
	for (auto _ : state) {
		nshm_event_notify(&ev);
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(state.iterations());
}

void BM_event_notify_fn_no_waiter(benchmark::State &state)
{
	alignas(64) static nshm_event ev;

	nshm_event_init(&ev);
	for (auto _ : state) {
		nshm_event_notify_fn(&ev);
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(state.iterations());
}

void BM_mutex_lock_unlock(benchmark::State &state)
{
	alignas(64) static nshm_mutex m;

	if (nshm_mutex_init(&m) != 0) {
		state.SkipWithError("nshm_mutex_init failed");
		return;
	}
	for (auto _ : state) {
		int rc = nshm_mutex_lock(&m, nullptr);

		benchmark::DoNotOptimize(rc);
		rc = nshm_mutex_unlock(&m);
		benchmark::DoNotOptimize(rc);
	}
	state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_event_notify_no_waiter)->Name("event/notify_no_waiter");
BENCHMARK(BM_event_notify_fn_no_waiter)->Name("event/notify_fn_no_waiter");
BENCHMARK(BM_mutex_lock_unlock)->Name("mutex/lock_unlock");
#endif // GB_HAVE_SYNC

} // namespace

BENCHMARK_MAIN();
