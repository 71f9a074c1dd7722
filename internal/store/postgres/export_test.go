package postgres

// TSQuery is tsQuery, for the benchmarks of package postgres_test.
var TSQuery = tsQuery
