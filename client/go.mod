module github.com/mapdrive/mapdrive/client

go 1.26.8

require github.com/mapdrive/mapdrive/shared v0.0.0

replace github.com/mapdrive/mapdrive/shared => ../shared
