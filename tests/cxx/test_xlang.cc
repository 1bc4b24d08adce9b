// SPDX-License-Identifier: MIT
/*
 * A C program and a C++ program share rings: the C++ consumer (this file,
 * nshm::spsc<T>) reads what a C producer process (xlang_producer.c,
 * NSHM_RING_DEFINE*) writes, through a ring the C side created (A: the C++
 * type check accepts the C type record) and one the C++ side created (B,
 * with a seq field: the C side's type check accepts the C++ record). Every
 * element is checked whole; a wrong element type is refused across the
 * language boundary too.
 *
 * usage: test_xlang PATH_TO_xlang_producer
 */
#include <nshm/nshm.hpp>

#include "xlang.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

NSHM_ELEMENT(xl_tick, "struct xl_tick", 1);
NSHM_ELEMENT_SEQ(xl_line, "struct xl_line", 1, ring_seq);

namespace {
std::string name_a, name_b;
pid_t child = -1;

void cleanup()
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, nullptr, 0);
	}
	nshm_ring_delete(name_a.c_str());
	nshm_ring_delete(name_b.c_str());
}

[[noreturn]] void fail(int line, const char *what, std::error_code ec = {})
{
	std::fprintf(stderr, "test_xlang:%d: %s: %s (%s)\n", line, what,
		     ec.message().c_str(), nshm_errdetail());
	std::exit(1);
}
#define FAIL(...) fail(__LINE__, __VA_ARGS__)

// The same type under another version: what a stale consumer would use.
struct stale_traits {
	static const char *name() noexcept { return "struct xl_tick"; }
	static constexpr uint32_t version = 2;
	static constexpr uint32_t seq_offset = nshm::no_seq_field;
};
} // namespace

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	std::string base = "nshmt-xlang-" + std::to_string(getpid());
	name_a = base + "-a";
	name_b = base + "-b";
	std::atexit(cleanup);

	// The public structs have one layout in both languages.
	std::string cmd = std::string(argv[1]) + " --layout";
	FILE *pf = popen(cmd.c_str(), "r");
	unsigned long long c_layout = 0;
	if (pf == nullptr || std::fscanf(pf, "%llu", &c_layout) != 1 ||
	    pclose(pf) != 0)
		FAIL("xlang_producer --layout");
	if (c_layout != xl_layout())
		FAIL("the public structs' layout differs between C and C++");

	std::error_code ec;
	auto b = nshm::spsc<xl_line>::create(name_b.c_str(), XL_CAPACITY,
					     nshm::role::consumer, ec);
	if (!b)
		FAIL("create B", ec);

	child = fork();
	if (child < 0)
		FAIL("fork");
	if (child == 0) {
		execl(argv[1], argv[1], name_a.c_str(), name_b.c_str(),
		      static_cast<char *>(nullptr));
		std::perror("exec xlang_producer");
		_exit(127);
	}

	// Ring A appears when the C side has created it.
	nshm::spsc<xl_tick> a;
	for (int i = 0; i < 5000 && !a; i++) {
		a = nshm::spsc<xl_tick>::attach(name_a.c_str(),
						nshm::role::consumer, ec);
		if (!a && ec != std::errc::no_such_file_or_directory)
			FAIL("attach A", ec);
		if (!a)
			usleep(1000);
	}
	if (!a)
		FAIL("ring A never appeared", ec);
	auto stale = nshm::spsc<xl_tick, stale_traits>::attach(
		name_a.c_str(), nshm::role::consumer, ec);
	if (stale || ec != nshm::errc::type)
		FAIL("a stale type version was not refused", ec);

	auto dl = [] { return nshm::deadline::in(std::chrono::seconds(10)); };
	for (uint64_t i = 0; i < XL_COUNT; i++) {
		xl_tick t;
		if ((ec = a.pop_wait(t, dl())))
			FAIL("pop A", ec);
		if (t.seq != i || t.check != (i ^ XL_KEY) ||
		    t.instrument != i % 977 || t.qty != uint32_t(i) ||
		    t.bid != double(i) * 0.5 || t.ask != t.bid + 1)
			FAIL("ring A: wrong element");
	}
	uint64_t next = 0;
	while (next < XL_COUNT) {
		nshm::burst<xl_line> got = b.peek_n(64);
		if (got.empty()) {
			int rc = nshm_ring_wait_readable(b.get(), dl().get());
			if (rc < 0)
				FAIL("wait B", nshm::error_from(rc));
			continue;
		}
		for (uint32_t k = 0; k < got.size(); k++, next++) {
			const xl_line &l = got[k];
			if (l.id != next)
				FAIL("ring B: out of order");
			for (int w = 0; w < 6; w++)
				if (l.words[w] != next * uint64_t(w + 1))
					FAIL("ring B: torn element");
		}
		b.release_n(got.size());
	}
	int status = 0;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		FAIL("the C producer failed");
	child = -1;
	// The C producer closed cleanly: both rings say so.
	xl_tick t;
	if (a.pop_wait(t, dl()) != std::errc::broken_pipe)
		FAIL("ring A: no clean close seen");
	struct nshm_ring_stats st;
	if (b.stats(st) || st.pushed != XL_COUNT || st.popped != XL_COUNT)
		FAIL("ring B: counters");
	std::printf("test_xlang: C producer -> C++ consumer, %u + %u elements "
		    "over a C-made and a C++-made ring: ok\n",
		    XL_COUNT, XL_COUNT);
	return 0;
}
