/** A point. */
struct Point {
  /// Horizontal.
  1: required i32 x,
  2: i32 y = -1,
  3: optional string label = "origin",
}

enum Shape { CIRCLE = 1, SQUARE }

union Either { 1: string text, 2: i64 number }

exception NotFound { 1: string what }

typedef list<Point> Path
const i32 LIMIT = 0x10
const Shape DEFAULT_SHAPE = Shape.SQUARE
const list<string> NAMES = ["a", "b"]
