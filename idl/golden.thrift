// Golden-vector IDL: every Thrift type shape the codec must round-trip byte-identically
// against independent implementations (see codec/tests/golden/README.md).
namespace rs golden
namespace py golden

enum Color {
  RED = 1,
  GREEN = 2,
  BLUE = 5,
}

struct Inner {
  1: i32 id,
  2: string name,
}

struct Primitives {
  1: bool b_true,
  2: bool b_false,
  3: byte i8v,
  4: i16 i16v,
  5: i32 i32v,
  6: i64 i64v,
  7: double dv,
  8: string s,
  9: binary bin,
  10: Color color,
}

struct Containers {
  1: list<i32> ints,
  2: list<string> strs,
  3: set<i64> longs,
  4: map<string, i32> counts,
  5: list<bool> flags,
  6: list<Inner> inners,
  7: map<i32, list<string>> nested,
  8: list<i32> empty_list,
  9: map<string, string> empty_map,
  10: set<string> empty_set,
  11: list<double> doubles,
}

struct Holder {
  1: Inner inner,
  2: optional string opt_absent,
  3: optional i32 opt_present,
  15: i16 fifteen,
  40: i16 forty,
  300: string far,
  301: bool far_bool,
}

union Choice {
  1: string text,
  2: i32 number,
  3: Inner inner,
}

exception Oops {
  1: i32 code,
  2: string message,
}

service Golden {
  Primitives primitives(1: Primitives p),
  Containers containers(1: Containers c),
  Holder holder(1: Holder h),
  Choice choice(1: Choice c),
  void fail(1: string s) throws (1: Oops oops),
}
