module github.com/mapdrive/mapdrive/service

go 1.26.8

require github.com/mapdrive/mapdrive/shared v0.0.0

replace github.com/mapdrive/mapdrive/shared => ../shared
