//! The demo chat's server side, on namespace `/chat` (the page is `assets/demo`): rooms,
//! nicknames, presence, typing, delivery receipts, binary images; with connection state
//! recovery, a client that drops comes back to its room with what it missed.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use socketio::{AckSender, Data, Namespace, Socket, SocketId};

const MAX_NAME: usize = 32;
const MAX_TEXT: usize = 2000;
const MAX_ID: usize = 64;
const MAX_IMAGE: usize = 1 << 20;
const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// A member, as the socket's data keeps it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct Member {
    nickname: String,
    room: String,
}

#[derive(Debug, Serialize)]
struct MemberView {
    id: String,
    nickname: String,
}

#[derive(Debug, Deserialize)]
struct Join {
    nickname: String,
    room: String,
}

#[derive(Debug, Deserialize)]
struct Chat {
    id: String,
    #[serde(default)]
    text: String,
    image: Option<Bytes>,
    mime: Option<String>,
}

#[derive(Debug, Serialize)]
struct ChatOut<'a> {
    id: &'a str,
    from: MemberView,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mime: Option<&'a str>,
    at: u64,
}

#[derive(Debug, Deserialize)]
struct Receipt {
    id: String,
    to: String,
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn valid_name(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=MAX_NAME).contains(&chars) && !name.chars().any(char::is_control)
}

fn member(socket: &Socket) -> Option<Member> {
    socket.data::<Member>().filter(|m| !m.room.is_empty())
}

fn view(socket: &Socket, member: &Member) -> MemberView {
    MemberView {
        id: socket.id().as_str().to_owned(),
        nickname: member.nickname.clone(),
    }
}

/// The members of a room on this server.
fn members(ns: &Namespace, room: &str) -> Vec<MemberView> {
    let mut members: Vec<MemberView> = ns
        .sockets()
        .iter()
        .filter_map(|socket| {
            let member = member(socket)?;
            (member.room == room).then(|| view(socket, &member))
        })
        .collect();
    members.sort_by(|a, b| a.nickname.cmp(&b.nickname).then(a.id.cmp(&b.id)));
    members
}

fn announce_presence(ns: &Namespace, room: &str) {
    let members = members(ns, room);
    let _ = ns.to(room).emit(
        "presence",
        &serde_json::json!({ "room": room, "members": members }),
    );
}

/// Installs the chat's handlers on `ns`.
pub(crate) fn install(ns: &Namespace) {
    ns.on_connection(|socket: Socket| async move {
        if socket.recovered()
            && let Some(member) = member(&socket)
        {
            // Back in its room with what it missed: the others see it again.
            announce_presence(&socket.namespace(), &member.room);
        }
        socket.on("join", on_join);
        socket.on("chat", on_chat);
        socket.on("receipt", |socket: Socket, Data((receipt,)): Data<(Receipt,)>| async move {
            on_receipt(&socket, &receipt);
        });
        socket.on("typing", |socket: Socket, Data((typing,)): Data<(bool,)>| async move {
            if let Some(member) = member(&socket) {
                let view = view(&socket, &member);
                let _ = socket.to(member.room.as_str()).volatile().emit(
                    "typing",
                    &serde_json::json!({ "id": view.id, "nickname": view.nickname, "typing": typing }),
                );
            }
        });
        socket.on_disconnect(|socket: Socket, _reason: socketio::DisconnectReason| async move {
            if let Some(member) = member(&socket) {
                announce_presence(&socket.namespace(), &member.room);
            }
        });
    });
}

async fn on_join(socket: Socket, Data((join,)): Data<(Join,)>, ack: AckSender) {
    let (nickname, room) = (join.nickname.trim(), join.room.trim());
    if !valid_name(nickname) || !valid_name(room) {
        let _ = ack.send(&serde_json::json!({
            "ok": false,
            "error": "nickname and room take 1 to 32 characters",
        }));
        return;
    }
    let ns = socket.namespace();
    let previous = member(&socket);
    if let Some(previous) = &previous
        && previous.room != room
    {
        socket.leave(&previous.room);
    }
    let member = Member {
        nickname: nickname.to_owned(),
        room: room.to_owned(),
    };
    if socket.set_data(&member).is_err() {
        return;
    }
    socket.join(room);
    let _ = ack.send(&serde_json::json!({
        "ok": true,
        "id": socket.id().as_str(),
        "room": room,
        "members": members(&ns, room),
    }));
    if let Some(previous) = previous
        && previous.room != room
    {
        announce_presence(&ns, &previous.room);
    }
    announce_presence(&ns, room);
}

async fn on_chat(socket: Socket, Data((chat,)): Data<(Chat,)>, ack: AckSender) {
    let refuse = |error: &str| {
        let _ = ack.send(&serde_json::json!({ "ok": false, "error": error }));
    };
    let Some(member) = member(&socket) else {
        return refuse("join a room first");
    };
    if chat.id.is_empty() || chat.id.len() > MAX_ID {
        return refuse("bad message id");
    }
    if chat.text.chars().count() > MAX_TEXT {
        return refuse("message too long");
    }
    let mime = match (&chat.image, chat.mime.as_deref()) {
        (None, _) if chat.text.trim().is_empty() => return refuse("empty message"),
        (None, _) => None,
        (Some(image), Some(mime)) if image.len() <= MAX_IMAGE && IMAGE_TYPES.contains(&mime) => {
            Some(mime)
        }
        (Some(_), _) => return refuse("images are PNG, JPEG, GIF or WebP, up to 1 MB"),
    };
    let at = now_millis();
    let message = ChatOut {
        id: &chat.id,
        from: view(&socket, &member),
        text: &chat.text,
        image: chat.image.as_ref(),
        mime,
        at,
    };
    let _ = socket.to(member.room.as_str()).emit("chat", &message);
    let _ = ack.send(&serde_json::json!({ "ok": true, "at": at }));
}

/// A member displayed a message: tell its sender, if both are in the same room.
fn on_receipt(socket: &Socket, receipt: &Receipt) {
    let Some(member) = member(socket) else { return };
    let ns = socket.namespace();
    let Some(sender) = SocketId::parse(&receipt.to).and_then(|id| ns.socket(id)) else {
        return;
    };
    if receipt.id.len() > MAX_ID || member_room(&sender).as_deref() != Some(&member.room) {
        return;
    }
    let _ = sender.emit(
        "delivered",
        &serde_json::json!({ "id": receipt.id, "by": view(socket, &member) }),
    );
}

fn member_room(socket: &Socket) -> Option<String> {
    member(socket).map(|m| m.room)
}
