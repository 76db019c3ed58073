module github.com/mapdrive/mapdrive/shared

go 1.26.8

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	gopkg.in/yaml.v3 v3.0.1
)
