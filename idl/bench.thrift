// Messages for the codec micro-benchmarks (benches/), shaped like kitex-benchmark's echo and
// echoComplex. The peers (Apache `thrift` crate, pilota) are generated from this same file.
namespace rs bench

struct Echo {
  1: required string action,
  2: required string msg,
}

struct SubMessage {
  1: optional i64 id,
  2: optional string value,
}

struct Message {
  1: optional i64 id,
  2: optional string value,
  3: optional list<SubMessage> sub_messages,
}

struct Complex {
  1: required string action,
  2: required string msg,
  3: required map<string, SubMessage> msg_map,
  4: required list<SubMessage> sub_msgs,
  5: required list<Message> msgs,
  6: required set<i64> ids,
  7: required map<i32, list<string>> tags,
  8: required binary blob,
  9: required double score,
  10: required bool flag,
}

service BenchService {
  Echo echo(1: Echo req),
  Complex complex(1: Complex req),
}
