package sextant

import (
	"context"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

// ChatMessage is one message of a conversation, as in OpenAI's chat API.
type ChatMessage struct {
	// Role is "system", "user", "assistant" or "tool".
	Role    string
	Content string
	// ToolCalls are the calls an assistant message made.
	ToolCalls []ToolCall
	// ToolCallID is the call a tool message answers.
	ToolCallID string
}

// ToolCall is a function call the model made. Arguments is JSON text, as the model wrote it.
type ToolCall struct {
	ID, Name, Arguments string
}

// FunctionDefinition is a function offered to the model. Parameters is a JSON schema object
// ("" = no parameters).
type FunctionDefinition struct {
	Name, Description, Parameters string
}

// GenerationSettings are passed to the generator, within the server's limits; nil fields keep the
// server's own settings. The extractive generator ignores them.
type GenerationSettings struct {
	Temperature *float32
	MaxTokens   *uint32
	Stop        []string
	Model       string
	Seed        *int64
}

// ChatOptions are the parameters of Chat. The zero value retrieves 5 chunks with the server's
// default generator, rewrites follow-ups automatically and offers no tools.
type ChatOptions struct {
	// K, Filter, Generator, SystemTemplate, UserTemplate, MaxPromptTokens, EfSearch: as AskOptions.
	AskOptions
	// MaxHistoryTokens bounds the earlier turns kept (oldest dropped first); 0 means 2048.
	MaxHistoryTokens int
	// Generation are per-request generation settings.
	Generation GenerationSettings
	// Rewrite is "" or "auto" (the model when the generator is one, else the heuristic),
	// "model", "heuristic" or "off".
	Rewrite string
	// ToolsAuto offers the model a `search` function over the collection (tool mode).
	ToolsAuto bool
	// Functions are the caller's own; calls to them come back in Answer.PendingCalls.
	Functions []FunctionDefinition
	// MaxToolRounds bounds the rounds of calls (1..16); 0 means 4.
	MaxToolRounds int
	// ConversationID keeps the conversation on the server (docs/rag.md, "Server-side
	// conversations"): its stored turns come first, then messages (only the new ones), and this
	// turn is stored; the first turn creates it. "" = nothing stored. 1..128 of letters, digits,
	// _ - . : (INVALID_ARGUMENT otherwise).
	ConversationID string
}

func toolCallsFromProto(calls []*pb.ToolCall) []ToolCall {
	var out []ToolCall
	for _, c := range calls {
		out = append(out, ToolCall{ID: c.GetId(), Name: c.GetName(), Arguments: c.GetArguments()})
	}
	return out
}

func chatMessageFromProto(m *pb.ChatMessage) ChatMessage {
	return ChatMessage{Role: m.GetRole(), Content: m.GetContent(), ToolCalls: toolCallsFromProto(m.GetToolCalls()),
		ToolCallID: m.GetToolCallId()}
}

func (o *ChatOptions) toProto(op, collection string, messages []ChatMessage, stream bool) (*pb.ChatRequest, error) {
	ask, err := o.AskOptions.toProto(op, collection, "", stream)
	if err != nil {
		return nil, err
	}
	history, err := toUint32(op, "max_history_tokens", o.MaxHistoryTokens)
	if err != nil {
		return nil, err
	}
	rounds, err := toUint32(op, "max_tool_rounds", o.MaxToolRounds)
	if err != nil {
		return nil, err
	}
	var rewrite pb.RewriteMode
	switch o.Rewrite {
	case "", "auto":
		rewrite = pb.RewriteMode_REWRITE_MODE_AUTO
	case "model":
		rewrite = pb.RewriteMode_REWRITE_MODE_MODEL
	case "heuristic":
		rewrite = pb.RewriteMode_REWRITE_MODE_HEURISTIC
	case "off":
		rewrite = pb.RewriteMode_REWRITE_MODE_OFF
	default:
		return nil, invalidArgument(op, "rewrite: \""+o.Rewrite+"\" is not auto, model, heuristic or off")
	}
	req := &pb.ChatRequest{
		Collection:       collection,
		K:                ask.K,
		Filter:           ask.Filter,
		Stream:           stream,
		Generator:        ask.Generator,
		SystemTemplate:   ask.SystemTemplate,
		UserTemplate:     ask.UserTemplate,
		MaxPromptTokens:  ask.MaxPromptTokens,
		EfSearch:         ask.EfSearch,
		MaxHistoryTokens: history,
		Rewrite:          rewrite,
		MaxToolRounds:    rounds,
		ConversationId:   o.ConversationID,
		Generation: &pb.GenerationSettings{Temperature: o.Generation.Temperature, MaxTokens: o.Generation.MaxTokens,
			Stop: o.Generation.Stop, Model: o.Generation.Model, Seed: o.Generation.Seed},
	}
	if o.ToolsAuto {
		req.Tools = pb.ToolMode_TOOL_MODE_AUTO
	}
	for _, f := range o.Functions {
		req.Functions = append(req.Functions, &pb.FunctionDefinition{Name: f.Name, Description: f.Description,
			Parameters: f.Parameters})
	}
	for _, m := range messages {
		pm := &pb.ChatMessage{Role: m.Role, Content: m.Content, ToolCallId: m.ToolCallID}
		for _, c := range m.ToolCalls {
			pm.ToolCalls = append(pm.ToolCalls, &pb.ToolCall{Id: c.ID, Name: c.Name, Arguments: c.Arguments})
		}
		req.Messages = append(req.Messages, pm)
	}
	return req, nil
}

// Chat answers the last turn of a conversation from the text collection (docs/rag.md, "Chat"):
// a follow-up is rewritten into a standalone question, retrieved with, and answered with the
// earlier turns as history; with ToolsAuto the model searches itself through function calls.
//
//	msgs := []sextant.ChatMessage{{Role: "user", Content: "How do I install it on Linux?"}}
//	ans, err := col.Chat(ctx, msgs, sextant.ChatOptions{})
//	msgs = append(msgs, ans.Messages...)
//	msgs = append(msgs, sextant.ChatMessage{Role: "user", Content: "and on Windows?"})
//	ans, err = col.Chat(ctx, msgs, sextant.ChatOptions{})
//
// INVALID_ARGUMENT naming the message for an empty list, an unknown role, a last message that is
// not from the user or a tool, a tool message that answers no call.
func (c *Collection) Chat(ctx context.Context, messages []ChatMessage, opts ChatOptions) (Answer, error) {
	return c.chat(ctx, "Chat", messages, opts, nil)
}

// ChatStream is Chat with the answer streamed to onPiece, as AskStream.
func (c *Collection) ChatStream(ctx context.Context, messages []ChatMessage, opts ChatOptions,
	onPiece func(piece string) error) (Answer, error) {
	if onPiece == nil {
		return Answer{}, invalidArgument("ChatStream", "onPiece: is nil (use Chat for the answer alone)")
	}
	return c.chat(ctx, "ChatStream", messages, opts, onPiece)
}

func (c *Collection) chat(ctx context.Context, op string, messages []ChatMessage, opts ChatOptions,
	onPiece func(string) error) (Answer, error) {
	req, err := opts.toProto(op, c.name, messages, onPiece != nil)
	if err != nil {
		return Answer{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.rpc.Chat(ctx, req)
	if err != nil {
		return Answer{}, wrapError(op, err)
	}
	return receiveAnswer(op, stream, cancel, onPiece)
}
