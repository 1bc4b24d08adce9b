// An outside C++17 program against the installed headers: <nshm/nshm.hpp>
// and the C API through it (bits/atomic.h must be installed too).
#include <nshm/nshm.hpp>
#include <cstdio>
#include <string>

struct tick {
	uint64_t seq;
	double px;
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	std::error_code ec;
	auto p = nshm::spsc<tick>::create(argv[1], 16, nshm::role::producer, ec);
	if (!p)
		return std::fprintf(stderr, "%s: %s\n", ec.message().c_str(),
				    nshm::error_detail().data()), 1;
	auto c = nshm::spsc<tick>::attach(argv[1], nshm::role::consumer, ec);
	tick t{};
	bool ok = c && p.push(tick{42, 1.5}) && !c.pop_wait(t) && t.seq == 42;
	p = {};
	c = {};
	return ok && !nshm::spsc<tick>::remove(argv[1]) ? 0 : 1;
}
