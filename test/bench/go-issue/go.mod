module rekey.local/bench/go-issue

go 1.22
