package auth

import "github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"

type recorder struct{ got []byte }

func (r *recorder) Unmarshal(b []byte) error { r.got = append([]byte(nil), b...); return nil }

type marshaler []byte

func (m marshaler) Marshal() ([]byte, error) { return m, nil }

func cacheReplaceHints() cache.ReplaceHints { return cache.ReplaceHints{} }
func cacheExportHints() cache.ExportHints   { return cache.ExportHints{} }
