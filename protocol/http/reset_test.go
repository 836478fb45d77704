package http

import (
	"errors"
	"reflect"
	"testing"
	"unsafe"
)

// TestResetClearsAll: reset, which sets a Request and a Response field by
// field, leaves nothing of the last request behind, whatever fields are
// added later: every field but the connection and the buffers is zero.
func TestResetClearsAll(t *testing.T) {
	x := exchangePool.New().(*exchange)
	tests := []struct {
		name  string
		v     any // a pointer to the struct
		reset func()
		keep  map[string]any // fields with a value of their own after reset
	}{
		{"Request", &x.req, x.req.reset, map[string]any{"contentLength": int64(-1)}},
		{"Response", &x.resp, x.resp.reset, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := reflect.ValueOf(tt.v).Elem()
			for i := 0; i < v.NumField(); i++ {
				f := v.Field(i)
				if linked[v.Type().Field(i).Name] {
					continue
				}
				f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
				f.Set(nonZero(t, f.Type()))
			}
			tt.reset()
			for i := 0; i < v.NumField(); i++ {
				f, name := v.Field(i), v.Type().Field(i).Name
				switch {
				case linked[name]:
				case tt.keep[name] != nil:
					if got := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface(); got != tt.keep[name] {
						t.Errorf("%s is %v after reset, want %v", name, got, tt.keep[name])
					}
				case f.Kind() == reflect.Slice:
					if f.Len() != 0 {
						t.Errorf("%s has %d elements after reset", name, f.Len())
					}
				case !f.IsZero():
					t.Errorf("%s is not zero after reset", name)
				}
			}
		})
	}
}

// linked are the fields that tie a Request or Response to its exchange
// and connection; reset keeps them.
var linked = map[string]bool{"st": true, "w": true, "r": true, "sessBuf": true}

// nonZero returns a value of type typ other than its zero value.
func nonZero(t *testing.T, typ reflect.Type) reflect.Value {
	v := reflect.New(typ).Elem()
	switch typ.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(typ, 1, 1))
	case reflect.Map:
		v.Set(reflect.MakeMap(typ))
	case reflect.Pointer:
		v.Set(reflect.New(typ.Elem()))
	case reflect.Interface:
		if !reflect.TypeOf(errors.New("")).Implements(typ) {
			t.Fatalf("no value for %v", typ)
		}
		v.Set(reflect.ValueOf(errors.New("x")))
	case reflect.Struct:
		for i := 0; i < typ.NumField(); i++ {
			f := v.Field(i)
			reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(nonZero(t, f.Type()))
		}
	default:
		t.Fatalf("no value for %v", typ)
	}
	return v
}
