package sextant

import (
	"context"
	"fmt"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

// Selector chooses the points a payload update applies to: by ids (every id must exist) or by a
// filter (every matching point; "{}" or map[string]any{} selects all). Build one with ByIDs or
// Where.
type Selector struct {
	ids      []ID
	filter   any
	byFilter bool
}

// ByIDs selects the points with these ids.
func ByIDs(ids ...ID) Selector { return Selector{ids: ids} }

// Where selects every point whose payload matches filter (see SearchOptions.Filter).
func Where(filter any) Selector { return Selector{filter: filter, byFilter: true} }

func idsToProto(op string, ids []ID) ([]*pb.PointId, error) {
	pids := make([]*pb.PointId, len(ids))
	for i, id := range ids {
		p, err := id.toProto(op, fmt.Sprintf("ids[%d]", i))
		if err != nil {
			return nil, err
		}
		pids[i] = p
	}
	return pids, nil
}

// selector returns the ids or the filter text of s (exactly one is set).
func (s Selector) toProto(op string) (*pb.PointIds, string, error) {
	if s.byFilter {
		f, err := encodeFilter(op, s.filter)
		if err != nil {
			return nil, "", err
		}
		if f == "" {
			return nil, "", invalidArgument(op, "filter: is empty (pass {} to select every point)")
		}
		return nil, f, nil
	}
	if len(s.ids) == 0 {
		return nil, "", invalidArgument(op, "ids: empty (name at least one point, or use Where)")
	}
	pids, err := idsToProto(op, s.ids)
	if err != nil {
		return nil, "", err
	}
	return &pb.PointIds{Ids: pids}, "", nil
}

// GetMany reads the points with these ids in one consistent read. The result has one entry per
// id, in order: the point, or nil when the id does not exist (not an error). withVector false
// leaves the points' Vector nil.
func (c *Collection) GetMany(ctx context.Context, ids []ID, withVector bool) ([]*Point, error) {
	const op = "GetMany"
	pids, err := idsToProto(op, ids)
	if err != nil {
		return nil, err
	}
	r, err := c.client.rpc.GetMany(ctx, &pb.GetManyRequest{Collection: c.name, Ids: pids, WithVector: withVector,
		ConsistencyToken: c.client.sessions.get(c.name)})
	if err != nil {
		return nil, wrapError(op, err)
	}
	found := make(map[ID]*Point, len(r.GetPoints()))
	for _, msg := range r.GetPoints() {
		p, err := pointFromProto(op, msg)
		if err != nil {
			return nil, err
		}
		if !withVector {
			p.Vector = nil
		}
		found[p.ID] = &p
	}
	out := make([]*Point, len(ids))
	for i, id := range ids {
		out[i] = found[id]
	}
	return out, nil
}

// CountWhere returns the number of points whose payload matches filter (nil counts all).
func (c *Collection) CountWhere(ctx context.Context, filter any) (int, error) {
	const op = "CountWhere"
	f, err := encodeFilter(op, filter)
	if err != nil {
		return 0, err
	}
	r, err := c.client.rpc.Count(ctx, &pb.CountRequest{Collection: c.name, Filter: f, ConsistencyToken: c.client.sessions.get(c.name)})
	if err != nil {
		return 0, wrapError(op, err)
	}
	return int(r.GetCount()), nil
}

func (c *Collection) setPayload(ctx context.Context, op string, which Selector, payload map[string]any, overwrite bool) (int, error) {
	ids, filter, err := which.toProto(op)
	if err != nil {
		return 0, err
	}
	text, err := encodePayload(op, "payload", payload)
	if err != nil {
		return 0, err
	}
	req := &pb.SetPayloadRequest{Collection: c.name, Payload: text, Overwrite: overwrite, Sync: c.sync,
		ConsistencyToken: c.client.sessions.get(c.name)}
	if ids != nil {
		req.Selector = &pb.SetPayloadRequest_Ids{Ids: ids}
	} else {
		req.Selector = &pb.SetPayloadRequest_Filter{Filter: filter}
	}
	r, err := c.client.rpc.SetPayload(ctx, req)
	if err != nil {
		return 0, wrapError(op, err)
	}
	c.client.sessions.note(c.name, r.GetConsistencyToken())
	return int(r.GetUpdated()), nil
}

// SetPayload sets the top-level keys of payload in the payloads of the selected points, keeping
// their other keys; vectors are untouched and payload indexes follow. One atomic update; returns
// how many points were updated.
func (c *Collection) SetPayload(ctx context.Context, which Selector, payload map[string]any) (int, error) {
	return c.setPayload(ctx, "SetPayload", which, payload, false)
}

// OverwritePayload replaces the whole payload of the selected points (nil clears it).
func (c *Collection) OverwritePayload(ctx context.Context, which Selector, payload map[string]any) (int, error) {
	return c.setPayload(ctx, "OverwritePayload", which, payload, true)
}

// DeletePayloadKeys removes these keys (dotted paths) from the payloads of the selected points.
func (c *Collection) DeletePayloadKeys(ctx context.Context, which Selector, keys ...string) (int, error) {
	const op = "DeletePayloadKeys"
	if len(keys) == 0 {
		return 0, invalidArgument(op, "keys: empty (name at least one key)")
	}
	ids, filter, err := which.toProto(op)
	if err != nil {
		return 0, err
	}
	req := &pb.DeletePayloadKeysRequest{Collection: c.name, Keys: keys, Sync: c.sync,
		ConsistencyToken: c.client.sessions.get(c.name)}
	if ids != nil {
		req.Selector = &pb.DeletePayloadKeysRequest_Ids{Ids: ids}
	} else {
		req.Selector = &pb.DeletePayloadKeysRequest_Filter{Filter: filter}
	}
	r, err := c.client.rpc.DeletePayloadKeys(ctx, req)
	if err != nil {
		return 0, wrapError(op, err)
	}
	c.client.sessions.note(c.name, r.GetConsistencyToken())
	return int(r.GetUpdated()), nil
}

// UpdateVectors replaces the vectors of existing points (their Payload must be nil: payloads are
// kept). Every id must exist; one atomic update.
func (c *Collection) UpdateVectors(ctx context.Context, points []Point) (int, error) {
	const op = "UpdateVectors"
	msgs := make([]*pb.Point, len(points))
	for i := range points {
		if points[i].Payload != nil {
			return 0, invalidArgument(op, "points[%d].payload: set, but UpdateVectors keeps payloads (use SetPayload)", i)
		}
		m, err := points[i].toProto(op, fmt.Sprintf("points[%d]", i))
		if err != nil {
			return 0, err
		}
		msgs[i] = m
	}
	r, err := c.client.rpc.UpdateVectors(ctx, &pb.UpdateVectorsRequest{Collection: c.name, Points: msgs, Sync: c.sync,
		ConsistencyToken: c.client.sessions.get(c.name)})
	if err != nil {
		return 0, wrapError(op, err)
	}
	c.client.sessions.note(c.name, r.GetConsistencyToken())
	return int(r.GetUpdated()), nil
}

// Alias is a second name of a collection (ListAliases).
type Alias struct {
	Alias      string
	Collection string
}

// AliasChange is one change of UpdateAliases: made by CreateAliasChange or DeleteAliasChange.
type AliasChange struct {
	create     bool
	alias      string
	collection string
}

// CreateAliasChange makes alias name collection.
func CreateAliasChange(alias, collection string) AliasChange {
	return AliasChange{create: true, alias: alias, collection: collection}
}

// DeleteAliasChange removes alias.
func DeleteAliasChange(alias string) AliasChange { return AliasChange{alias: alias} }

// CreateAlias makes alias a second name of collection, usable wherever a collection name is.
// ErrAlreadyExists when the alias exists or a collection has that name; ErrNotFound when the
// collection does not.
func (c *Client) CreateAlias(ctx context.Context, alias, collection string) error {
	_, err := c.rpc.CreateAlias(ctx, &pb.CreateAliasRequest{Alias: alias, Collection: collection})
	return wrapError("CreateAlias", err)
}

// DeleteAlias removes an alias (not its collection).
func (c *Client) DeleteAlias(ctx context.Context, alias string) error {
	_, err := c.rpc.DeleteAlias(ctx, &pb.DeleteAliasRequest{Alias: alias})
	return wrapError("DeleteAlias", err)
}

// ListAliases returns every alias ordered by name (only collection's when it is not empty).
func (c *Client) ListAliases(ctx context.Context, collection string) ([]Alias, error) {
	r, err := c.rpc.ListAliases(ctx, &pb.ListAliasesRequest{Collection: collection})
	if err != nil {
		return nil, wrapError("ListAliases", err)
	}
	out := make([]Alias, 0, len(r.GetAliases()))
	for _, a := range r.GetAliases() {
		out = append(out, Alias{Alias: a.GetAlias(), Collection: a.GetCollection()})
	}
	return out, nil
}

// UpdateAliases applies the changes in order, atomically: all or none. Deleting and re-creating
// an alias in one call switches it; a search through it sees the old or the new collection.
func (c *Client) UpdateAliases(ctx context.Context, changes ...AliasChange) error {
	req := &pb.UpdateAliasesRequest{}
	for _, ch := range changes {
		if ch.create {
			req.Changes = append(req.Changes, &pb.AliasChange{Action: &pb.AliasChange_CreateAlias{
				CreateAlias: &pb.CreateAliasRequest{Alias: ch.alias, Collection: ch.collection}}})
		} else {
			req.Changes = append(req.Changes, &pb.AliasChange{Action: &pb.AliasChange_DeleteAlias{
				DeleteAlias: &pb.DeleteAliasRequest{Alias: ch.alias}}})
		}
	}
	_, err := c.rpc.UpdateAliases(ctx, req)
	return wrapError("UpdateAliases", err)
}
