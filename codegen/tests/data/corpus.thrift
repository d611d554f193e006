/**
 * A corpus of every construct the Thrift front end must accept.
 */
include "shared.thrift"
cpp_include "<unordered_map>"

namespace rs corpus.rs
namespace * corpus
namespace xsd test (uri = 'http://example.com/ns')
namespace py.twisted corpus.twisted

/// Int and string constants, every literal form.
const i32 HEX = 0x7f;
const i64 NEG = -42
const double EXP = 1.5e-3, const double PLAIN = 3.25;
const string SINGLE = 'single "quoted"'
const string DOUBLE = "double 'quoted'\n"
const list<i32> NUMS = [1, 2; 3]
const map<string, i32> COUNTS = {"a": 1, "b": 2}
const shared.Color FAV = shared.Color.RED
const bool YES = true

typedef i64 UserId (rs.newtype = "")
typedef map<string, list<set<binary>>> Deep
typedef shared.Color Colour

enum Status {
  /// Fine.
  OK = 0,
  WARN,
  ERROR = 0x10 (deprecated = "use FAILED"),
  FAILED;
}



/** Keywords of Rust as names. */
struct type {
  1: required i32 fn,
  2: optional string match = "m",
  3: list<type> self_ref,
  -4: i8 negative,
  5: uuid id,
  6: map<Status, UserId> by_status = {},
  7: set<string> tags = ["a", "b"],
  8: Deep deep,
  9: bool flag = true;
  10: double ratio = 1
} (rs.derive = "Hash")

union Either { 1: string left; 2: i64 right }

exception Boom {
  1: i32 code = 500,
  2: string message
}

service Base {
  void ping()
}

/**
 * The service.
 * @control_plane(timeout_ms = 200)
 */
service Corpus extends Base {
  /// Echo it.
  type echo(1: type t, 2: optional i32 times = 1) throws (1: Boom boom, 2: shared.Oops oops),
  oneway void fire(1: string what);
  list<map<string, Either>> nested() (control_plane.timeout_ms = "50")
  binary raw(1: binary data, 2: uuid id)
} (deprecated = "")
