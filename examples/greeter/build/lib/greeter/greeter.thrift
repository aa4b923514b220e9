exception UnknownLanguage {
  1: string language,
}

struct Greeting {
  1: string text,
  2: string language,
}

service Greeter {
  Greeting greet(1: string name, 2: string language = "en") throws (1: UnknownLanguage unknown),
  oneway void log(1: string line),
  void ping(),
}
