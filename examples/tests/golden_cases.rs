//! The golden outputs of `ringrpc-codegen` (`codegen/tests/data/golden_cases/*/expected.rs`)
//! compile against the runtime, and their types round-trip through both protocols.

mod basic {
    include!("../../codegen/tests/data/golden_cases/basic/expected.rs");
}
mod recursive {
    include!("../../codegen/tests/data/golden_cases/recursive/expected.rs");
}
mod unhashable {
    include!("../../codegen/tests/data/golden_cases/unhashable/expected.rs");
}

use ringrpc::codec::{Binary, BytesStr, Compact, Decode, Encode, from_bytes, to_bytes};

fn round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T) {
    let binary = to_bytes::<Binary, _>(value).unwrap();
    assert_eq!(&from_bytes::<Binary, T>(&binary).unwrap(), value);
    let compact = to_bytes::<Compact, _>(value).unwrap();
    assert_eq!(&from_bytes::<Compact, T>(&compact).unwrap(), value);
}

#[test]
fn golden_types_apply_defaults_and_round_trip() {
    let point = basic::input::Point::default();
    assert_eq!(point.y, -1);
    assert_eq!(point.label.as_deref(), Some("origin"));
    round_trip(&point);
    round_trip(&basic::input::Either::Text(BytesStr::from_static("x")));
    round_trip(&basic::input::Shape(99));
    assert_eq!(basic::input::LIMIT, 16);
    assert_eq!(basic::input::names().len(), 2);
}
