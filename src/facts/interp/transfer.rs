//! The Winsock transfer function: what each call of `winsock::APIS` does to a path,
//! driven by the table's `Effect` for the call.

use super::*;

impl<'c, 'g, 'a> Interp<'c, 'g, 'a> {
    pub(super) fn winsock(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
        st: State,
        out: &mut Outs,
    ) {
        let id = val_of_span(span);
        let mut st = st;
        let Some(api) = crate::winsock::api(name) else {
            out.push((st, Val::Sym(id)));
            return;
        };
        let failed_startup = st.startup_failed.take();
        let effect = api.effect;
        // The socket the call acts on, by the table (the first argument for the calls whose
        // effect is on a socket).
        let sock_ix = api.socket_arg.map(usize::from).or(match effect {
            Effect::Connects | Effect::Listens | Effect::ShutsDown { .. } | Effect::Closes => {
                Some(0)
            }
            _ => None,
        });
        let sid = sock_ix.and_then(|k| self.sock_of(&mut st, args.get(k)));
        let socket = sid
            .and_then(|sid| st.socks.get(&sid))
            .map(|s| self.socket_fact(s));
        let version = match effect {
            Effect::Startup => args
                .first()
                .and_then(|a| version_arg(a).map(|v| (a.span(), v))),
            _ => None,
        };
        self.run.calls.insert(CallFact {
            span,
            callee: Callee::Api(ApiRef(api)),
            before: st.before(failed_startup, socket),
            version,
        });
        self.call_vals.insert(id, (span, api));
        match effect {
            Effect::Startup => {
                let mut ok = st.clone();
                ok.final_cleanup = None;
                ok.held.push(Token {
                    site: span,
                    chain: Chain::default(),
                });
                ok.own = true;
                ok.vals.insert(id, ZERO);
                out.push((ok, Val::Sym(id)));
                let mut fail = st;
                fail.own = true;
                fail.last_own = Some((span, OwnEvent::FailedStartup));
                fail.startup_failed = Some(span);
                fail.vals.insert(id, NONZERO);
                out.push((fail, Val::Sym(id)));
            }
            Effect::Cleanup => {
                self.release(&mut st, span, span, Chain::default());
                out.push((st, Val::Sym(id)));
            }
            Effect::Creates { type_arg } => {
                let written = args.get(usize::from(type_arg)).and_then(const_name);
                let kind = match written.as_deref().and_then(crate::winsock::socket_type) {
                    Some(SocketType::Stream) => SocketKind::Stream,
                    Some(SocketType::Datagram) => SocketKind::Datagram,
                    None => SocketKind::Unknown,
                };
                new_socket(st, id, kind, Origin::Created(span), None, out);
            }
            Effect::Accepts => {
                new_socket(
                    st,
                    id,
                    SocketKind::Stream,
                    Origin::Accepted(span),
                    Some(span),
                    out,
                );
            }
            Effect::Connects => {
                let mut ok = st.clone();
                if let Some(sid) = sid {
                    if let Some(sock) = ok.socks.get_mut(&sid) {
                        if !matches!(sock.kind, SocketKind::Datagram | SocketKind::Listening) {
                            sock.connected = Some(span);
                        }
                    }
                }
                ok.vals.insert(id, ZERO);
                out.push((ok, Val::Sym(id)));
                let mut fail = st;
                fail.vals.insert(id, NONZERO);
                out.push((fail, Val::Sym(id)));
            }
            Effect::Listens => {
                let mut st = st;
                if let Some(sid) = sid {
                    if let Some(sock) = st.socks.get_mut(&sid) {
                        sock.kind = SocketKind::Listening;
                    }
                }
                out.push((st, Val::Sym(id)));
            }
            Effect::ShutsDown { how_arg } => {
                let mut st = st;
                let how = args.get(usize::from(how_arg)).and_then(const_name);
                let counts =
                    how.as_deref().and_then(crate::winsock::shutdown_how) != Some(How::Receive);
                if counts {
                    if let Some(sid) = sid {
                        if let Some(sock) = st.socks.get_mut(&sid) {
                            sock.shut = true;
                        }
                    }
                }
                out.push((st, Val::Sym(id)));
            }
            Effect::Closes => {
                let mut st = st;
                if let Some(sock) = sid.and_then(|sid| st.socks.get_mut(&sid)) {
                    sock.closed = Some(span);
                    sock.closed_hidden_by = None;
                }
                out.push((st, Val::Sym(id)));
            }
            Effect::ReadsLastError | Effect::None => out.push((st, Val::Sym(id))),
        }
    }

    /// `WSACleanup` (directly, or inside a callee): releases a held reference, or the caller's.
    pub(super) fn release(&mut self, st: &mut State, here: Span, cleanup: Span, chain: Chain) {
        let open_sockets = st
            .socks
            .values()
            .filter_map(|sock| match (&sock.origin, sock.closed) {
                (Origin::Created(at) | Origin::Accepted(at), None) => Some(*at),
                _ => None,
            })
            .collect();
        let released = if !st.held.is_empty() {
            Released::Own
        } else if !st.own {
            Released::Callers
        } else {
            Released::Nothing {
                previous: st.last_own,
            }
        };
        self.run.releases.insert(ReleaseSeen {
            at: here,
            cleanup,
            chain: chain.clone(),
            released,
            open_sockets,
            hidden_by: st.hidden_by(),
        });
        match released {
            Released::Own => {
                st.held.pop();
                st.own = true;
                st.last_own = Some((here, OwnEvent::Cleanup));
                if st.held.is_empty() && st.released.is_empty() {
                    st.final_cleanup = Some(here);
                }
            }
            Released::Callers => st.released.push(Release { cleanup, chain }),
            Released::Nothing { .. } | Released::NoHolder => {
                st.last_own = Some((here, OwnEvent::Cleanup));
            }
        }
    }

    /// What the path knows of a socket, as facts say it.
    fn socket_fact(&self, sock: &Sock) -> SocketFact {
        let connected = match (&sock.connected, &sock.origin) {
            (Some(at), Origin::Accepted(_)) => Some((*at, ConnectedBy::Accept)),
            (Some(at), _) => Some((*at, ConnectedBy::Connect)),
            (None, Origin::Foreign(key)) => self
                .unit
                .evidence
                .get(key)
                .map(|at| (*at, ConnectedBy::Usage)),
            (None, _) => None,
        };
        SocketFact {
            kind: sock.kind,
            connected,
            shut: sock.shut,
            closed: sock.closed,
            closed_hidden_by: sock.closed_hidden_by,
        }
    }

    /// The socket held in the place `arg` names, created as foreign on first sight.
    pub(super) fn sock_of(&mut self, st: &mut State, arg: Option<&Expr>) -> Option<ValId> {
        let key = arg?.place_key()?;
        let id = self.place(st, &key);
        // On the path where creating it failed, the variable holds INVALID_SOCKET: no socket.
        if st.socks.contains_key(&id) {
            return Some(id);
        }
        if st.vals.get(&id) == Some(&INVALID) {
            return None;
        }
        st.socks.insert(
            id,
            Sock {
                kind: SocketKind::Unknown,
                origin: Origin::Foreign(key),
                connected: None,
                shut: false,
                closed: None,
                closed_hidden_by: None,
            },
        );
        Some(id)
    }
}

/// A call that returns a new socket forks: a valid handle with its socket, or `INVALID_SOCKET`.
pub(super) fn new_socket(
    st: State,
    id: ValId,
    kind: SocketKind,
    origin: Origin,
    connected: Option<Span>,
    out: &mut Outs,
) {
    let mut ok = st.clone();
    ok.socks.insert(
        id,
        Sock {
            kind,
            origin,
            connected,
            shut: false,
            closed: None,
            closed_hidden_by: None,
        },
    );
    ok.vals.insert(id, VALID);
    out.push((ok, Val::Sym(id)));
    let mut bad = st;
    bad.vals.insert(id, INVALID);
    out.push((bad, Val::Sym(id)));
}

/// Reads a `WSAStartup` version argument: `0x0202`, `MAKEWORD(2, 2)`, `2.2 as u16`, `WINSOCK_VERSION`.
pub(super) fn version_arg(e: &Expr) -> Option<VersionArg> {
    match e {
        Expr::Lit {
            lit: Lit::Int(v), ..
        } => u16::try_from(*v).ok().map(VersionArg::Word),
        Expr::Cast { expr, ty, .. } => match &**expr {
            Expr::Lit {
                lit: Lit::Float(text),
                ..
            } => {
                let digits: String = text.chars().filter(|&c| c != '_').collect();
                let digits = digits
                    .strip_suffix("f32")
                    .or_else(|| digits.strip_suffix("f64"))
                    .unwrap_or(&digits);
                let value = digits.parse::<f64>().ok()?;
                Some(VersionArg::Float {
                    text: text.clone(),
                    ty: ty.clone(),
                    value: value as u16,
                })
            }
            inner => version_arg(inner),
        },
        Expr::Call { func, args, .. } => match (&**func, args.as_slice()) {
            (Expr::Path { segs, .. }, [a, b]) if segs.last().is_some_and(|s| s == "MAKEWORD") => {
                match (a, b) {
                    (
                        Expr::Lit {
                            lit: Lit::Int(lo), ..
                        },
                        Expr::Lit {
                            lit: Lit::Int(hi), ..
                        },
                    ) => {
                        let lo = u8::try_from(*lo).ok()?;
                        let hi = u8::try_from(*hi).ok()?;
                        Some(VersionArg::Word(u16::from(lo) | (u16::from(hi) << 8)))
                    }
                    _ => None,
                }
            }
            _ => None,
        },
        Expr::Path { segs, .. } if segs.last().is_some_and(|s| s == "WINSOCK_VERSION") => {
            Some(VersionArg::Word(0x0202))
        }
        _ => None,
    }
}
