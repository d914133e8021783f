package sextant

import (
	"context"
	"crypto/tls"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

// Client is a connection to a sextantd server. It is safe for concurrent use by many
// goroutines; make one per server and Close it when done.
type Client struct {
	conn     *grpc.ClientConn
	rpc      pb.SextantClient
	sessions sessions // per collection, the session's consistency token (session.go)
}

// Option configures Dial.
type Option func(*dialConfig)

type dialConfig struct {
	apiKey   string
	tls      *tls.Config
	insecure bool
	extra    []grpc.DialOption
}

// WithAPIKey sends key as "authorization: Bearer KEY" metadata on every call. Needed when the
// server was started with --api-key / --read-only-key / --api-key-file.
func WithAPIKey(key string) Option { return func(c *dialConfig) { c.apiKey = key } }

// WithTLS connects over TLS with cfg (nil: the system roots and the address's host name).
func WithTLS(cfg *tls.Config) Option {
	return func(c *dialConfig) {
		if cfg == nil {
			cfg = &tls.Config{}
		}
		c.tls = cfg
	}
}

// WithInsecure connects without TLS (plain text). This is the default when WithTLS is not given;
// the option exists to say so explicitly.
func WithInsecure() Option { return func(c *dialConfig) { c.insecure = true } }

// WithDialOptions adds gRPC dial options (interceptors, keepalive, call options, ...). They are
// applied after the client's own, so they can override them.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *dialConfig) { c.extra = append(c.extra, opts...) }
}

// maxRecvBytes is the largest response the client accepts (a scan page or search with vectors
// can exceed gRPC's 4 MiB default); the server bounds what it sends by its own limit.
const maxRecvBytes = 1 << 30

// bearer is the per-call credential of WithAPIKey.
type bearer struct{ key string }

// GetRequestMetadata adds the authorization header to a call.
func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.key}, nil
}

// RequireTransportSecurity is false: sextantd accepts keys over plain text on loopback, and a
// user who sends a key over plain text elsewhere chose WithInsecure.
func (b bearer) RequireTransportSecurity() bool { return false }

// Dial connects to the sextantd at addr ("host:port") and checks, through the standard gRPC
// health service, that it serves. ctx bounds the connection attempt only; it is not kept.
// Without WithTLS the connection is plain text.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	var cfg dialConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.tls != nil && cfg.insecure {
		return nil, invalidArgument("Dial", "options: WithTLS and WithInsecure are both given")
	}
	var creds credentials.TransportCredentials = insecure.NewCredentials()
	if cfg.tls != nil {
		creds = credentials.NewTLS(cfg.tls)
	}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvBytes)),
	}
	if cfg.apiKey != "" {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearer{cfg.apiKey}))
	}
	dialOpts = append(dialOpts, cfg.extra...)
	conn, err := grpc.NewClient(addr, dialOpts...)
	if err != nil {
		return nil, invalidArgument("Dial", "address %q: %v", addr, err)
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) == codes.Unimplemented {
		// A server without the health service: it answered, so it is reachable.
		err = nil
		resp = &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}
	}
	if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		err = &Error{code: codes.Unavailable, op: "Dial",
			message: "the server at " + addr + " is not serving (" + resp.GetStatus().String() + ")"}
	}
	if err != nil {
		conn.Close()
		return nil, wrapError("Dial", err)
	}
	return &Client{conn: conn, rpc: pb.NewSextantClient(conn)}, nil
}

// Close closes the connection. Calls in flight fail with CANCELLED.
func (c *Client) Close() error { return c.conn.Close() }

// RPC returns the generated gRPC client over the same connection, for anything this package does
// not wrap. Its errors are plain gRPC status errors.
func (c *Client) RPC() pb.SextantClient { return c.rpc }

// ServerInfo returns the server's version, build, SIMD level and limits, and whether the
// caller's key is read-only.
func (c *Client) ServerInfo(ctx context.Context) (ServerInfo, error) {
	r, err := c.rpc.ServerInfo(ctx, &pb.ServerInfoRequest{})
	if err != nil {
		return ServerInfo{}, wrapError("ServerInfo", err)
	}
	return ServerInfo{
		Version:         r.GetVersion(),
		Build:           r.GetBuild(),
		SIMDLevel:       r.GetSimdLevel(),
		ReadOnly:        r.GetReadOnly(),
		MaxMessageBytes: r.GetMaxMessageBytes(),
		MaxBatchPoints:  int(r.GetMaxBatchPoints()),
		MaxDimension:    int(r.GetMaxDimension()),
	}, nil
}

// CreateCollection creates the collection name and returns a handle to it. ALREADY_EXISTS when
// a collection of that name exists; INVALID_ARGUMENT for a bad name, dimension, metric, index
// spec or payload index.
func (c *Client) CreateCollection(ctx context.Context, name string, cfg CollectionConfig) (*Collection, error) {
	const op = "CreateCollection"
	dim, err := toUint32(op, "dimension", cfg.Dimension)
	if err != nil {
		return nil, err
	}
	props, err := encodePayload(op, "properties", cfg.Properties)
	if err != nil {
		return nil, err
	}
	shards, err := toUint32(op, "shards", cfg.Shards)
	if err != nil {
		return nil, err
	}
	replication, err := toUint32(op, "replication", cfg.Replication)
	if err != nil {
		return nil, err
	}
	req := &pb.CreateCollectionRequest{
		Name:        name,
		Dimension:   dim,
		Metric:      pb.Metric(cfg.Metric),
		Index:       cfg.Index.toProto(),
		Properties:  props,
		Shards:      shards,
		Replication: replication,
	}
	for _, pi := range cfg.PayloadIndexes {
		req.PayloadIndexes = append(req.PayloadIndexes,
			&pb.PayloadIndex{Field: pi.Field, Type: pb.PayloadFieldType(pi.Type)})
	}
	for _, tf := range cfg.TextFields {
		req.TextFields = append(req.TextFields, &pb.TextField{Field: tf.Field, Language: tf.Language,
			NoStemming: tf.NoStemming, NoStopWords: tf.NoStopWords})
	}
	if _, err := c.rpc.CreateCollection(ctx, req); err != nil {
		return nil, wrapError(op, err)
	}
	return c.Collection(name), nil
}

// Collection returns a handle to the collection name. It makes no call: a collection that does
// not exist shows as NOT_FOUND on the first call through the handle.
func (c *Client) Collection(name string) *Collection {
	return &Collection{client: c, name: name}
}

// ListCollections describes every collection, ordered by name.
func (c *Client) ListCollections(ctx context.Context) ([]CollectionInfo, error) {
	r, err := c.rpc.ListCollections(ctx, &pb.ListCollectionsRequest{})
	if err != nil {
		return nil, wrapError("ListCollections", err)
	}
	out := make([]CollectionInfo, 0, len(r.GetCollections()))
	for _, ci := range r.GetCollections() {
		out = append(out, collectionInfoFromProto(ci))
	}
	return out, nil
}

// DropCollection deletes the collection name and all its points. NOT_FOUND when there is none.
func (c *Client) DropCollection(ctx context.Context, name string) error {
	_, err := c.rpc.DropCollection(ctx, &pb.DropCollectionRequest{Name: name})
	return wrapError("DropCollection", err)
}
