package sextant_test

import (
	"encoding/json"
	"testing"

	"google.golang.org/grpc/codes"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
)

func TestDataManagement(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col := mustCreate(t, ctx, c, "data", sextant.CollectionConfig{
		Dimension:      4,
		Metric:         sextant.MetricL2,
		PayloadIndexes: []sextant.PayloadIndex{{Field: "group", Type: sextant.FieldKeyword}},
	})
	var points []sextant.Point
	for i := 0; i < 12; i++ {
		f := float32(i)
		points = append(points, sextant.Point{
			ID:      sextant.NumID(uint64(i)),
			Vector:  []float32{f, f, f, f},
			Payload: map[string]any{"group": []string{"a", "b", "c"}[i%3], "n": i, "meta": map[string]any{"x": 1, "y": 2}},
		})
	}
	if _, err := col.Upsert(ctx, points); err != nil {
		t.Fatal(err)
	}

	got, err := col.GetMany(ctx, []sextant.ID{sextant.NumID(2), sextant.NumID(99), sextant.StrID("2")}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] == nil || got[0].ID != sextant.NumID(2) || len(got[0].Vector) != 4 || got[1] != nil || got[2] != nil {
		t.Fatalf("GetMany = %+v", got)
	}

	if n, err := col.CountWhere(ctx, map[string]any{"group": "a"}); err != nil || n != 4 {
		t.Errorf("CountWhere(group a) = %d, %v", n, err)
	}
	if n, err := col.SetPayload(ctx, sextant.Where(map[string]any{"group": "a"}), map[string]any{"group": "z", "tag": true}); err != nil || n != 4 {
		t.Errorf("SetPayload = %d, %v", n, err)
	}
	if n, err := col.CountWhere(ctx, `{"group": "z", "tag": true}`); err != nil || n != 4 {
		t.Errorf("CountWhere(group z) = %d, %v", n, err)
	}
	if _, err := col.OverwritePayload(ctx, sextant.ByIDs(sextant.NumID(1)), map[string]any{"only": 1}); err != nil {
		t.Fatal(err)
	}
	if p, err := col.Get(ctx, sextant.NumID(1)); err != nil || len(p.Payload) != 1 {
		t.Errorf("after OverwritePayload: %+v, %v", p, err)
	}
	if n, err := col.DeletePayloadKeys(ctx, sextant.ByIDs(sextant.NumID(2), sextant.NumID(3)), "meta.x", "n"); err != nil || n != 2 {
		t.Errorf("DeletePayloadKeys = %d, %v", n, err)
	}
	p, err := col.Get(ctx, sextant.NumID(2))
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(p.Payload["meta"])
	if _, has := p.Payload["n"]; has || string(meta) != `{"y":2}` {
		t.Errorf("after DeletePayloadKeys: %+v", p.Payload)
	}
	_, err = col.SetPayload(ctx, sextant.ByIDs(sextant.NumID(1), sextant.NumID(500)), map[string]any{"x": 1})
	wantCode(t, "SetPayload(missing id)", err, sextant.ErrNotFound, codes.NotFound)
	_, err = col.SetPayload(ctx, sextant.ByIDs(), map[string]any{"x": 1})
	wantCode(t, "SetPayload(no ids)", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = col.DeletePayloadKeys(ctx, sextant.Where("{}"))
	wantCode(t, "DeletePayloadKeys(no keys)", err, sextant.ErrInvalidArgument, codes.InvalidArgument)

	far := []float32{100, 100, 100, 100}
	if _, err := col.UpdateVectors(ctx, []sextant.Point{{ID: sextant.NumID(4), Vector: far}}); err != nil {
		t.Fatal(err)
	}
	res, err := col.Search(ctx, far, sextant.SearchOptions{K: 1, PayloadInclude: []string{"group"}})
	if err != nil || len(res.Hits) != 1 || res.Hits[0].ID != sextant.NumID(4) || len(res.Hits[0].Payload) != 1 || res.Hits[0].Payload["group"] != "b" {
		t.Errorf("Search after UpdateVectors = %+v, %v", res, err)
	}
	_, err = col.UpdateVectors(ctx, []sextant.Point{{ID: sextant.NumID(500), Vector: far}})
	wantCode(t, "UpdateVectors(missing id)", err, sextant.ErrNotFound, codes.NotFound)
}

func TestAliases(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	a := mustCreate(t, ctx, c, "a", sextant.CollectionConfig{Dimension: 2, Metric: sextant.MetricL2})
	mustCreate(t, ctx, c, "b", sextant.CollectionConfig{Dimension: 2, Metric: sextant.MetricL2})
	if _, err := a.Upsert(ctx, []sextant.Point{{ID: sextant.StrID("in-a"), Vector: []float32{0, 0}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateAlias(ctx, "live", "a"); err != nil {
		t.Fatal(err)
	}
	live := c.Collection("live")
	if n, err := live.Count(ctx); err != nil || n != 1 {
		t.Errorf("Count through alias = %d, %v", n, err)
	}
	wantCode(t, "CreateAlias(again)", c.CreateAlias(ctx, "live", "a"), sextant.ErrAlreadyExists, codes.AlreadyExists)
	wantCode(t, "CreateAlias(missing)", c.CreateAlias(ctx, "x", "nope"), sextant.ErrNotFound, codes.NotFound)
	if err := c.UpdateAliases(ctx, sextant.DeleteAliasChange("live"), sextant.CreateAliasChange("live", "b")); err != nil {
		t.Fatal(err)
	}
	if n, err := live.Count(ctx); err != nil || n != 0 {
		t.Errorf("Count after swap = %d, %v", n, err)
	}
	list, err := c.ListAliases(ctx, "")
	if err != nil || len(list) != 1 || list[0] != (sextant.Alias{Alias: "live", Collection: "b"}) {
		t.Errorf("ListAliases = %+v, %v", list, err)
	}
	if err := c.DeleteAlias(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "DeleteAlias(again)", c.DeleteAlias(ctx, "live"), sextant.ErrNotFound, codes.NotFound)
}
