package store

import (
	"fmt"
	"reflect"
	"strings"

	"gorm.io/gorm"

	"github.com/mapdrive/mapdrive/service/internal/crypto"
)

// registerGuard installs gorm callbacks that refuse any create or update
// writing a value into an encrypted column ("*_enc") that is not
// ciphertext. The store always seals before writing; the guard catches a
// future code path that does not: Update("site_url_enc", x), a map passed
// to Updates, a struct built without the sealer.
func registerGuard(db *gorm.DB) error {
	if err := db.Callback().Create().Before("gorm:create").Register("mapdrive:ciphertext_guard", guardCiphertext); err != nil {
		return err
	}
	return db.Callback().Update().Before("gorm:update").Register("mapdrive:ciphertext_guard", guardCiphertext)
}

func guardCiphertext(db *gorm.DB) {
	st := db.Statement
	check := func(col string, v any) {
		if !strings.HasSuffix(col, "_enc") {
			return
		}
		if v == nil {
			return // NULL holds no data
		}
		b, ok := v.([]byte)
		if ok && len(b) == 0 {
			return
		}
		if !ok || !crypto.LooksSealed(b) {
			db.AddError(fmt.Errorf("store: refusing to write %s.%s: the value is not ciphertext", st.Table, col))
		}
	}
	switch d := st.Dest.(type) {
	case map[string]any:
		for k, v := range d {
			check(k, v)
		}
		return
	case *map[string]any:
		for k, v := range *d {
			check(k, v)
		}
		return
	case []map[string]any:
		for _, m := range d {
			for k, v := range m {
				check(k, v)
			}
		}
		return
	}
	if st.Schema == nil {
		return
	}
	// Update("col", v) arrives as a map above; a struct (or slice of
	// structs) is checked field by field.
	rv := reflect.Indirect(reflect.ValueOf(st.Dest))
	var rows []reflect.Value
	switch rv.Kind() {
	case reflect.Struct:
		rows = []reflect.Value{rv}
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			rows = append(rows, reflect.Indirect(rv.Index(i)))
		}
	}
	for _, row := range rows {
		if row.Kind() != reflect.Struct || row.Type() != st.Schema.ModelType {
			continue
		}
		for _, f := range st.Schema.Fields {
			if strings.HasSuffix(f.DBName, "_enc") {
				v, _ := f.ValueOf(st.Context, row)
				check(f.DBName, v)
			}
		}
	}
}
