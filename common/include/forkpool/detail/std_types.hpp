// Every standard type cereal can serialize, so that a task may take or return any of them with
// <forkpool/forkpool.hpp> alone, as anything picklable crosses a ProcessPoolExecutor. Costs
// about 0.5 s of compile time per translation unit that includes forkpool (1.9 s to 2.4 s for
// a one-line file, g++ 12 -O2): a price paid once per such file, against an error per type.
// Left out: cereal's polymorphic pointers (they need registrations of their own) and
// boost::variant (not a std type).
#pragma once

#include <cereal/types/array.hpp>
#include <cereal/types/atomic.hpp>
#include <cereal/types/bitset.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/forward_list.hpp>
#include <cereal/types/functional.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/memory.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/queue.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/stack.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/valarray.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
