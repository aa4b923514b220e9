// The service of aiothrift's documentation, served and called by the scripts here.
service PingPong {
    string ping(),
    i64 add(1:i32 a, 2:i64 b),
}
