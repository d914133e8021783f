package sextant_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
	"google.golang.org/grpc/codes"
)

func TestChat(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col := makeFAQ(t, ctx, c, "chat")

	msgs := []sextant.ChatMessage{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: nitrogenQuestion},
	}
	first, err := col.Chat(ctx, msgs, sextant.ChatOptions{AskOptions: sextant.AskOptions{K: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Citations) == 0 || first.Citations[0].DocumentID != "nitrogen" || first.FinishReason != "stop" ||
		len(first.Messages) != 1 || first.Messages[0].Role != "assistant" {
		t.Fatalf("Chat = %+v", first)
	}
	msgs = append(msgs, first.Messages...)
	msgs = append(msgs, sextant.ChatMessage{Role: "user", Content: "and what do laboratories use it for?"})
	var pieces []string
	temp := float32(0.2)
	ans, err := col.ChatStream(ctx, msgs, sextant.ChatOptions{AskOptions: sextant.AskOptions{K: 2},
		Generation: sextant.GenerationSettings{Temperature: &temp}}, func(p string) error {
		pieces = append(pieces, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pieces, "") != ans.Text || !strings.HasPrefix(ans.StandaloneQuestion, nitrogenQuestion) ||
		ans.Citations[0].DocumentID != "nitrogen" {
		t.Errorf("ChatStream = %+v, pieces %q", ans, pieces)
	}

	for _, tc := range []struct {
		msgs   []sextant.ChatMessage
		opts   sextant.ChatOptions
		code   codes.Code
		needle string
	}{
		{nil, sextant.ChatOptions{}, codes.InvalidArgument, "messages: empty"},
		{[]sextant.ChatMessage{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "hello"}},
			sextant.ChatOptions{}, codes.InvalidArgument, "messages[1]: the last message must be"},
		{[]sextant.ChatMessage{{Role: "oracle", Content: "hi"}}, sextant.ChatOptions{}, codes.InvalidArgument,
			"messages[0]: unknown role"},
		{[]sextant.ChatMessage{{Role: "user", Content: "hi"}, {Role: "tool", ToolCallID: "c1", Content: "x"}},
			sextant.ChatOptions{}, codes.InvalidArgument, "messages[1]: tool message answers"},
		{[]sextant.ChatMessage{{Role: "user", Content: "hi"}}, sextant.ChatOptions{ToolsAuto: true},
			codes.FailedPrecondition, "cannot call functions"},
		{[]sextant.ChatMessage{{Role: "user", Content: "hi"}}, sextant.ChatOptions{Rewrite: "maybe"},
			codes.InvalidArgument, "rewrite"},
	} {
		_, err := col.Chat(ctx, tc.msgs, tc.opts)
		var se *sextant.Error
		if !errors.As(err, &se) || se.Code() != tc.code || !strings.Contains(err.Error(), tc.needle) {
			t.Errorf("Chat(%v) = %v, want %v containing %q", tc.msgs, err, tc.code, tc.needle)
		}
	}
	t.Run("Conversations", func(t *testing.T) { testConversations(t, ctx, c, col) })
}

// testConversations: server-side conversations (ChatOptions.ConversationID) on the FAQ collection.
func testConversations(t *testing.T, ctx context.Context, c *sextant.Client, col *sextant.Collection) {
	const id = "faq:go-1"
	opts := sextant.ChatOptions{AskOptions: sextant.AskOptions{K: 2}, ConversationID: id}
	first, err := col.Chat(ctx, []sextant.ChatMessage{{Role: "system", Content: "Be brief."},
		{Role: "user", Content: nitrogenQuestion}}, opts)
	if err != nil || first.ConversationID != id {
		t.Fatalf("Chat(ConversationID) = %+v, %v", first, err)
	}
	// Continuing by id sends only the new message; the stored turns make it a follow-up.
	follow, err := col.ChatStream(ctx, []sextant.ChatMessage{{Role: "user", Content: "and what do laboratories use it for?"}},
		opts, func(string) error { return nil })
	if err != nil || follow.ConversationID != id || !strings.HasPrefix(follow.StandaloneQuestion, nitrogenQuestion) {
		t.Fatalf("ChatStream(ConversationID) = %+v, %v", follow, err)
	}
	conv, err := col.GetConversation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range conv.Messages {
		roles = append(roles, m.Role)
	}
	if strings.Join(roles, ",") != "system,user,assistant,user,assistant" || conv.Messages[4].Content != follow.Text ||
		conv.Info.ID != id || conv.Info.Collection != col.Name() || conv.Info.Messages != 5 || conv.Info.Bytes <= 0 ||
		conv.Info.Created.IsZero() || conv.Info.Updated.Before(conv.Info.Created) {
		t.Errorf("GetConversation = %+v (roles %v)", conv, roles)
	}
	list, err := col.ListConversations(ctx)
	if err != nil || len(list) != 1 || list[0] != conv.Info {
		t.Errorf("ListConversations = %+v, %v; want [%+v]", list, err, conv.Info)
	}

	// Another collection neither sees nor deletes it.
	other, err := c.CreateTextCollection(ctx, "chat_other", sextant.TextOptions{Embedder: sextant.EmbedderConfig{Kind: "hash"}})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := other.ListConversations(ctx); err != nil || len(l) != 0 {
		t.Errorf("other.ListConversations = %+v, %v", l, err)
	}
	if _, err := other.GetConversation(ctx, id); !errors.Is(err, sextant.ErrNotFound) {
		t.Errorf("other.GetConversation = %v, want NOT_FOUND", err)
	}
	if err := other.DeleteConversation(ctx, id); !errors.Is(err, sextant.ErrNotFound) {
		t.Errorf("other.DeleteConversation = %v, want NOT_FOUND", err)
	}
	if _, err := other.Chat(ctx, []sextant.ChatMessage{{Role: "user", Content: "hi"}}, opts); !errors.Is(err, sextant.ErrInvalidArgument) {
		t.Errorf("other.Chat(ConversationID of col) = %v, want INVALID_ARGUMENT", err)
	}

	if _, err := col.GetConversation(ctx, "no-such-conversation"); !errors.Is(err, sextant.ErrNotFound) {
		t.Errorf("GetConversation(unknown) = %v, want NOT_FOUND", err)
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", 129)} {
		if _, err := col.GetConversation(ctx, bad); !errors.Is(err, sextant.ErrInvalidArgument) ||
			!strings.Contains(err.Error(), "conversation") {
			t.Errorf("GetConversation(%q) = %v, want INVALID_ARGUMENT", bad, err)
		}
		if err := col.DeleteConversation(ctx, bad); !errors.Is(err, sextant.ErrInvalidArgument) {
			t.Errorf("DeleteConversation(%q) = %v, want INVALID_ARGUMENT", bad, err)
		}
		if bad == "" {
			continue // "" in ChatOptions means "not stored"
		}
		if _, err := col.Chat(ctx, []sextant.ChatMessage{{Role: "user", Content: "hi"}},
			sextant.ChatOptions{ConversationID: bad}); !errors.Is(err, sextant.ErrInvalidArgument) {
			t.Errorf("Chat(ConversationID %q) = %v, want INVALID_ARGUMENT", bad, err)
		}
	}

	if err := col.DeleteConversation(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := col.GetConversation(ctx, id); !errors.Is(err, sextant.ErrNotFound) {
		t.Errorf("GetConversation after delete = %v, want NOT_FOUND", err)
	}
	if err := col.DeleteConversation(ctx, id); !errors.Is(err, sextant.ErrNotFound) {
		t.Errorf("DeleteConversation twice = %v, want NOT_FOUND", err)
	}
	if l, err := col.ListConversations(ctx); err != nil || len(l) != 0 {
		t.Errorf("ListConversations after delete = %+v, %v", l, err)
	}
}
