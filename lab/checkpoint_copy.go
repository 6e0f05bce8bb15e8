package lab

import (
	"fmt"
	"reflect"
	"sort"
	"unsafe"
)

// graphCopier copies a graph of Go values — everything reachable from a root
// through pointers, slices, maps and interfaces, unexported fields included —
// keeping its shape: two pointers to one object point to one copy, and slices
// that share a backing array share the copy of it, so that a write through
// one is seen through the other exactly as in the original. That is what
// makes a copy of a simulation (its nodes' opaque memory included) run on
// exactly as the original does (see Checkpoint).
//
// It copies in two passes. The first walks the graph and finds every memory
// block the copy must reproduce: the objects pointers point to, and the
// stretch of each backing array that slices reach. The second allocates one
// copy of each block and fills it in, mapping every pointer to the same
// offset in the copy of its block.
//
// It refuses (and the caller must not use the copy) a graph that holds what
// it cannot copy exactly: a function value (a closure's captured variables
// are out of reach), a channel, an unsafe.Pointer; and memory blocks that
// overlap without one being the same kind of block as the other (a pointer
// to a field inside a struct that something else points to as a whole; a
// pointer into an array reached as something other than its element type).
type graphCopier struct {
	err error
	// blocks, by the address of their first byte, and by type.
	blocks map[blockKey]*block
	// order lists the blocks by start address once the first pass is done.
	order []*block
	maps  map[unsafe.Pointer]reflect.Value
	seen  map[blockKey]bool // pointers walked in the first pass
	where []string          // the path being walked, for error messages
	// bytes counts what the copy allocated: its blocks, and an estimate of
	// its maps (entries' keys and values, plus the tables' overhead).
	// Strings are immutable and shared with the original, not counted.
	bytes int64
}

type blockKey struct {
	addr uintptr
	elem reflect.Type
}

// block is a stretch of memory holding n values of type elem from addr:
// an object a pointer points to (n == 1), or the reached part of an array.
type block struct {
	ptr   unsafe.Pointer // the first byte; keeps the original alive
	addr  uintptr
	elem  reflect.Type
	n     int
	copy  reflect.Value // pointer to the first element of the copy
	array bool
	done  bool
}

func (b *block) end() uintptr { return b.addr + uintptr(b.n)*b.elem.Size() }

func newGraphCopier() *graphCopier {
	return &graphCopier{blocks: map[blockKey]*block{}, maps: map[unsafe.Pointer]reflect.Value{}, seen: map[blockKey]bool{}}
}

func (g *graphCopier) fail(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf("%s: "+format, append([]any{pathString(g.where)}, args...)...)
	}
}

func pathString(where []string) string {
	if len(where) == 0 {
		return "the root"
	}
	s := ""
	for _, w := range where {
		s += w
	}
	return s
}

// readable returns v (addressable) with its read-only flag cleared, so that
// unexported fields can be read and set.
func readable(v reflect.Value) reflect.Value {
	if v.CanSet() {
		return v
	}
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}

// copyGraph returns a copy of *root (root is a non-nil pointer).
func copyGraph[T any](root *T) (*T, error) {
	out, _, err := copyGraphBytes(root)
	return out, err
}

// copyGraphBytes is copyGraph that also reports the bytes the copy allocated
// (see graphCopier.bytes).
func copyGraphBytes[T any](root *T) (*T, int64, error) {
	g := newGraphCopier()
	rv := reflect.ValueOf(root)
	g.scanPointer(rv)
	if g.err != nil {
		return nil, 0, g.err
	}
	g.layout()
	if g.err != nil {
		return nil, 0, g.err
	}
	out := g.copyPointer(rv)
	if g.err != nil {
		return nil, 0, g.err
	}
	return out.Interface().(*T), g.bytes, nil
}

// scan walks v (addressable) in the first pass.
func (g *graphCopier) scan(v reflect.Value) {
	if g.err != nil {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			g.scanPointer(v)
		}
	case reflect.Slice:
		if v.Cap() == 0 || v.Type().Elem().Size() == 0 {
			return
		}
		// The reached part of the array: up to the capacity, which appends
		// and reslicing can reach.
		ptr := v.UnsafePointer()
		addr := uintptr(ptr)
		et := v.Type().Elem()
		if b, ok := g.blocks[blockKey{addr, et}]; ok && b.array && b.n >= v.Cap() {
			return // walked already
		}
		g.addBlock(ptr, et, v.Cap(), true)
		if !needsWalk(et) {
			return
		}
		full := v.Slice3(0, v.Cap(), v.Cap())
		for i := range v.Cap() {
			if g.err != nil {
				return
			}
			g.scanElem(full.Index(i), i)
		}
	case reflect.Array:
		for i := range v.Len() {
			g.scanElem(v.Index(i), i)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			g.where = append(g.where, "."+t.Field(i).Name)
			g.scan(readable(v.Field(i)))
			g.where = g.where[:len(g.where)-1]
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		p := v.UnsafePointer()
		if _, ok := g.maps[p]; ok {
			return
		}
		g.maps[p] = reflect.Value{}
		it := v.MapRange()
		for it.Next() {
			k := reflect.New(v.Type().Key()).Elem()
			k.Set(it.Key())
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			g.where = append(g.where, "[key]")
			g.scan(k)
			g.where[len(g.where)-1] = "[value]"
			g.scan(e)
			g.where = g.where[:len(g.where)-1]
		}
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := v.Elem()
		if e.Kind() == reflect.Pointer {
			if !e.IsNil() {
				g.scanPointer(e)
			}
			return
		}
		c := reflect.New(e.Type()).Elem()
		c.Set(e)
		g.scan(c)
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		if !v.IsNil() {
			g.fail("holds a %v (%v), which cannot be copied exactly", v.Kind(), v.Type())
		}
	}
}

func (g *graphCopier) scanElem(v reflect.Value, i int) {
	if !needsWalk(v.Type()) {
		return
	}
	g.where = append(g.where, fmt.Sprintf("[%d]", i))
	g.scan(v)
	g.where = g.where[:len(g.where)-1]
}

// needsWalk reports whether values of type t can hold references.
func needsWalk(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return true
	case reflect.Array:
		return t.Len() > 0 && needsWalk(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if needsWalk(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

func (g *graphCopier) scanPointer(p reflect.Value) {
	et := p.Type().Elem()
	if et.Size() == 0 {
		return
	}
	k := blockKey{p.Pointer(), et}
	if g.seen[k] {
		return
	}
	g.seen[k] = true
	g.addBlock(p.UnsafePointer(), et, 1, false)
	g.where = append(g.where, "→")
	g.scan(p.Elem())
	g.where = g.where[:len(g.where)-1]
}

func (g *graphCopier) addBlock(ptr unsafe.Pointer, et reflect.Type, n int, array bool) {
	k := blockKey{uintptr(ptr), et}
	if b, ok := g.blocks[k]; ok {
		b.n = max(b.n, n)
		b.array = b.array || array
		return
	}
	g.blocks[k] = &block{ptr: ptr, addr: uintptr(ptr), elem: et, n: n, array: array}
}

// layout merges the blocks that overlap into one block each, refusing the
// overlaps it cannot copy exactly, and allocates their copies.
func (g *graphCopier) layout() {
	all := make([]*block, 0, len(g.blocks))
	for _, b := range g.blocks {
		all = append(all, b)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].addr != all[j].addr {
			return all[i].addr < all[j].addr
		}
		return all[i].end() > all[j].end()
	})
	var merged []*block
	for _, b := range all {
		if len(merged) > 0 {
			last := merged[len(merged)-1]
			if b.addr < last.end() {
				// b lies (at least partly) in last: they must be views of
				// one array of one element type, at an element boundary.
				if b.elem != last.elem || (b.addr-last.addr)%b.elem.Size() != 0 {
					g.fail("memory reached as %v at %#x lies inside memory reached as %v: a pointer into another value cannot be copied exactly", b.elem, b.addr, last.elem)
					return
				}
				last.n = max(last.n, int((b.end()-last.addr)/b.elem.Size()))
				last.array = true
				g.blocks[blockKey{b.addr, b.elem}] = last
				continue
			}
		}
		merged = append(merged, b)
	}
	g.order = merged
	for _, b := range merged {
		arr := reflect.New(reflect.ArrayOf(b.n, b.elem))
		b.copy = reflect.NewAt(b.elem, arr.UnsafePointer())
		g.bytes += int64(b.n) * int64(b.elem.Size())
	}
}

// find returns the block holding addr as type et, and the element index.
func (g *graphCopier) find(addr uintptr, et reflect.Type) (*block, int) {
	if b, ok := g.blocks[blockKey{addr, et}]; ok {
		return b, int((addr - b.addr) / et.Size())
	}
	i := sort.Search(len(g.order), func(i int) bool { return g.order[i].end() > addr })
	if i < len(g.order) && g.order[i].addr <= addr && g.order[i].elem == et {
		b := g.order[i]
		return b, int((addr - b.addr) / et.Size())
	}
	g.fail("no copy of the %v at %#x (the graph changed while it was copied?)", et, addr)
	return nil, 0
}

// elemAt returns the copy of element i of block b, settable.
func elemAt(b *block, i int) reflect.Value {
	return reflect.NewAt(b.elem, unsafe.Add(b.copy.UnsafePointer(), uintptr(i)*b.elem.Size())).Elem()
}

// fill copies every element of block b (once).
func (g *graphCopier) fill(b *block) {
	if b.done || g.err != nil {
		return
	}
	b.done = true
	src := reflect.NewAt(reflect.ArrayOf(b.n, b.elem), b.ptr).Elem()
	dst := reflect.NewAt(reflect.ArrayOf(b.n, b.elem), b.copy.UnsafePointer()).Elem()
	if !needsWalk(b.elem) {
		reflect.Copy(dst, src)
		return
	}
	for i := range b.n {
		g.copyInto(dst.Index(i), src.Index(i))
	}
}

func (g *graphCopier) copyPointer(p reflect.Value) reflect.Value {
	et := p.Type().Elem()
	if et.Size() == 0 {
		return reflect.New(et)
	}
	b, i := g.find(p.Pointer(), et)
	if b == nil {
		return reflect.Zero(p.Type())
	}
	g.fill(b)
	return elemAt(b, i).Addr()
}

// copyInto sets dst (settable) to a copy of src (addressable).
func (g *graphCopier) copyInto(dst, src reflect.Value) {
	if g.err != nil {
		return
	}
	if !needsWalk(src.Type()) {
		dst.Set(src)
		return
	}
	switch src.Kind() {
	case reflect.Pointer:
		if !src.IsNil() {
			dst.Set(g.copyPointer(src).Convert(src.Type()))
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		et := src.Type().Elem()
		if src.Cap() == 0 || et.Size() == 0 {
			dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Cap()))
			return
		}
		b, i := g.find(src.Pointer(), et)
		if b == nil {
			return
		}
		g.fill(b)
		base := reflect.NewAt(reflect.ArrayOf(b.n, b.elem), b.copy.UnsafePointer()).Elem().Slice(0, b.n)
		dst.Set(base.Slice3(i, i+src.Len(), i+src.Cap()).Convert(src.Type()))
	case reflect.Array:
		for i := range src.Len() {
			g.copyInto(dst.Index(i), src.Index(i))
		}
	case reflect.Struct:
		for i := range src.NumField() {
			g.copyInto(readable(dst.Field(i)), readable(src.Field(i)))
		}
	case reflect.Map:
		if src.IsNil() {
			return
		}
		p := src.UnsafePointer()
		if m := g.maps[p]; m.IsValid() {
			dst.Set(m)
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		g.maps[p] = m
		// A map's table: about 1.5 slots per entry (its load factor) of a
		// key, a value and a control byte, plus its header.
		g.bytes += 48 + int64(src.Len())*3/2*int64(src.Type().Key().Size()+src.Type().Elem().Size()+1)
		it := src.MapRange()
		for it.Next() {
			k := reflect.New(src.Type().Key()).Elem()
			k.Set(it.Key())
			e := reflect.New(src.Type().Elem()).Elem()
			e.Set(it.Value())
			kc := reflect.New(src.Type().Key()).Elem()
			ec := reflect.New(src.Type().Elem()).Elem()
			g.copyInto(kc, k)
			g.copyInto(ec, e)
			m.SetMapIndex(kc, ec)
		}
		dst.Set(m)
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		e := src.Elem()
		if e.Kind() == reflect.Pointer {
			if e.IsNil() {
				dst.Set(e)
			} else {
				dst.Set(g.copyPointer(e).Convert(e.Type()))
			}
			return
		}
		s := reflect.New(e.Type()).Elem()
		s.Set(e)
		c := reflect.New(e.Type()).Elem()
		g.copyInto(c, s)
		dst.Set(c)
	default: // Func, Chan, UnsafePointer: nil (scan refused the others)
	}
}
