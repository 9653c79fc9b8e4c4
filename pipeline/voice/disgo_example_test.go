package voice_test

import (
	"context"

	"github.com/disgoorg/disgo/bot"
	"github.com/disgoorg/disgo/events"
	"github.com/disgoorg/snowflake/v2"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
)

// The wiring for disgo's main gateway: its two voice events, for the
// bot's own user, become the two updates Connect takes; a later
// VOICE_SERVER_UPDATE moves the connection (disgo's own voice connection
// is not used). No Discord is reached here: the listener is only built.
func Example_disgo() {
	guildID := snowflake.ID(41771983423143937)
	servers := make(chan voice.ServerUpdate, 1)
	states := make(chan voice.StateUpdate, 1)
	listener := bot.NewListenerFunc(func(e bot.Event) {
		switch e := e.(type) {
		case *events.VoiceServerUpdate:
			if e.GuildID == guildID && e.Endpoint != nil { // nil: a server being reallocated
				servers <- voice.ServerUpdate{Endpoint: *e.Endpoint, Token: e.Token, GuildID: e.GuildID.String()}
			}
		case *events.GuildVoiceStateUpdate:
			if e.VoiceState.UserID == e.Client().ID() && e.VoiceState.ChannelID != nil {
				states <- voice.StateUpdate{UserID: e.VoiceState.UserID.String(), SessionID: e.VoiceState.SessionID, ChannelID: e.VoiceState.ChannelID.String()}
			}
		}
	})
	_ = listener // disgo.New(token, bot.WithEventListeners(listener), ...); then client.UpdateVoiceState(ctx, guildID, &channelID, false, true)

	join := func(ctx context.Context) (*voice.Conn, error) {
		conn, err := voice.Connect(ctx, <-servers, <-states)
		if err != nil {
			return nil, err
		}
		go func() {
			for su := range servers { // region moves
				_ = conn.UpdateServer(ctx, su)
			}
		}()
		return conn, nil
	}
	_ = join
	// Output:
}
