// Included by corpus.thrift.
namespace rs shared
enum Color { RED = 1, GREEN = 2 }
exception Oops { 1: string why }
