package sextant

import (
	"context"
	"time"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
	"google.golang.org/grpc/codes"
)

// ConversationInfo describes a server-side conversation (ChatOptions.ConversationID).
type ConversationInfo struct {
	ID         string
	Collection string
	// Messages is the number of messages kept (the oldest beyond the server's
	// --conversation-max-messages are dropped, a leading system message kept).
	Messages int
	// Bytes is the size of their text.
	Bytes   int64
	Created time.Time
	Updated time.Time
}

// Conversation is a stored conversation: its info and its messages, oldest first.
type Conversation struct {
	Info     ConversationInfo
	Messages []ChatMessage
}

func conversationInfoFromProto(c *pb.ConversationInfo) ConversationInfo {
	return ConversationInfo{ID: c.GetId(), Collection: c.GetCollection(), Messages: int(c.GetMessages()),
		Bytes: int64(c.GetBytes()), Created: time.UnixMilli(c.GetCreatedMs()), Updated: time.UnixMilli(c.GetUpdatedMs())}
}

// checkConversationID refuses an empty id before sending (the server checks the syntax: 1..128 of
// letters, digits, _ - . :).
func checkConversationID(op, id string) error {
	if id == "" {
		return invalidArgument(op, "conversation_id: empty")
	}
	return nil
}

// ListConversations returns the server-side conversations of the collection, by id.
func (c *Collection) ListConversations(ctx context.Context) ([]ConversationInfo, error) {
	r, err := c.client.rpc.ListConversations(ctx, &pb.ListConversationsRequest{Collection: c.name})
	if err != nil {
		return nil, wrapError("ListConversations", err)
	}
	out := make([]ConversationInfo, 0, len(r.GetConversations()))
	for _, info := range r.GetConversations() {
		out = append(out, conversationInfoFromProto(info))
	}
	return out, nil
}

// GetConversation returns a stored conversation of the collection. NOT_FOUND for an unknown id or
// a conversation of another collection (ids are database-wide; a conversation stays with its
// collection), INVALID_ARGUMENT for a malformed id.
func (c *Collection) GetConversation(ctx context.Context, id string) (Conversation, error) {
	return c.getConversation(ctx, "GetConversation", id)
}

func (c *Collection) getConversation(ctx context.Context, op, id string) (Conversation, error) {
	if err := checkConversationID(op, id); err != nil {
		return Conversation{}, err
	}
	r, err := c.client.rpc.GetConversation(ctx, &pb.GetConversationRequest{ConversationId: id})
	if err != nil {
		return Conversation{}, wrapError(op, err)
	}
	if got := r.GetInfo().GetCollection(); got != c.name {
		return Conversation{}, &Error{code: codes.NotFound, op: op,
			message: "conversation \"" + id + "\" belongs to collection \"" + got + "\", not \"" + c.name + "\""}
	}
	out := Conversation{Info: conversationInfoFromProto(r.GetInfo())}
	for _, m := range r.GetMessages() {
		out.Messages = append(out.Messages, chatMessageFromProto(m))
	}
	return out, nil
}

// DeleteConversation deletes a stored conversation of the collection (a read-write key). NOT_FOUND
// for an unknown id or a conversation of another collection (left alone), INVALID_ARGUMENT for a
// malformed id.
func (c *Collection) DeleteConversation(ctx context.Context, id string) error {
	if _, err := c.getConversation(ctx, "DeleteConversation", id); err != nil {
		return err
	}
	_, err := c.client.rpc.DeleteConversation(ctx, &pb.DeleteConversationRequest{ConversationId: id})
	return wrapError("DeleteConversation", err)
}
