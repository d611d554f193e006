struct Sample {
  1: set<double> readings,
  2: map<set<i32>, string> by_keys,
  3: map<string, list<double>> series,
  4: set<string> tags,
}
