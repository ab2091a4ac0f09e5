//! SIP URIs, name-addr header values (From, To, Contact) and Via values.

use std::fmt;

/// A parse failure with a human-readable reason (used in 400 responses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriError(pub String);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, UriError> {
    Err(UriError(msg.into()))
}

/// A `sip:`/`sips:` URI (or `tel:`, kept as user + empty host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub scheme: String,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// URI parameters in order; value `None` for flag parameters (`;lr`).
    pub params: Vec<(String, Option<String>)>,
    /// The `?headers` part, verbatim (without `?`).
    pub headers: Option<String>,
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// Parses `;a=b;c` parameter lists; empty parameters are an error.
pub fn parse_params(s: &str) -> Result<Vec<(String, Option<String>)>, UriError> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Ok(out);
    }
    for p in split_unquoted(s, ';') {
        let p = p.trim();
        if p.is_empty() {
            return err("empty parameter");
        }
        match p.split_once('=') {
            Some((k, v)) => {
                let k = k.trim();
                let v = v.trim();
                if k.is_empty() || !k.chars().all(is_token_char) {
                    return err(format!("bad parameter name {k:?}"));
                }
                if v.is_empty() {
                    return err(format!("parameter {k} has no value"));
                }
                out.push((k.to_string(), Some(v.to_string())));
            }
            None => {
                if !p
                    .chars()
                    .all(|c| is_token_char(c) || c == '[' || c == ']' || c == ':')
                {
                    return err(format!("bad parameter {p:?}"));
                }
                out.push((p.to_string(), None));
            }
        }
    }
    Ok(out)
}

/// Splits on `sep` outside double quotes and angle brackets.
pub fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quote = false;
    let mut escaped = false;
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            '<' if !in_quote => depth += 1,
            '>' if !in_quote => depth -= 1,
            c if c == sep && !in_quote && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

impl SipUri {
    /// Parses a URI. Only `sip`, `sips` and `tel` are understood; any other
    /// scheme is [`UriError`] with a message starting with "unsupported scheme".
    pub fn parse(s: &str) -> Result<Self, UriError> {
        if s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>') {
            return err("whitespace or angle bracket in URI");
        }
        let (scheme, rest) = match s.split_once(':') {
            Some(x) => x,
            None => return err("URI without scheme"),
        };
        let scheme_l = scheme.to_ascii_lowercase();
        if scheme_l == "tel" {
            let (num, params) = rest.split_once(';').unwrap_or((rest, ""));
            return Ok(Self {
                scheme: scheme_l,
                user: Some(num.to_string()),
                host: String::new(),
                port: None,
                params: parse_params(params)?,
                headers: None,
            });
        }
        if scheme_l != "sip" && scheme_l != "sips" {
            return err(format!("unsupported scheme {scheme}"));
        }
        // The user part may hold '?', ';' and '/' (RFC 3261 §25.1); headers
        // may not hold an unescaped '@': split the user off first.
        let (userinfo, hostpart) = match rest.rfind('@') {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        let (hostpart, headers) = match hostpart.split_once('?') {
            Some((a, b)) => (a, Some(b.to_string())),
            None => (hostpart, None),
        };
        let user = match userinfo {
            Some(u) => {
                let u = u.split(':').next().unwrap_or("");
                if u.is_empty() {
                    return err("empty user part");
                }
                Some(u.to_string())
            }
            None => None,
        };
        let (hostport, params) = hostpart.split_once(';').unwrap_or((hostpart, ""));
        let (host, port) = split_hostport(hostport)?;
        Ok(Self {
            scheme: scheme_l,
            user,
            host,
            port,
            params: parse_params(params)?,
            headers,
        })
    }

    /// The value of URI parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// The user part with %-escapes decoded.
    pub fn user_unescaped(&self) -> Option<String> {
        self.user.as_deref().map(unescape)
    }

    /// A new `sip:` URI.
    pub fn sip(user: Option<&str>, host: &str, port: Option<u16>) -> Self {
        Self {
            scheme: "sip".into(),
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
            params: Vec::new(),
            headers: None,
        }
    }
}

/// Splits `host[:port]`, with IPv6 references in brackets.
pub fn split_hostport(s: &str) -> Result<(String, Option<u16>), UriError> {
    if s.is_empty() {
        return err("empty host");
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| UriError("unterminated IPv6 reference".into()))?;
        let host = format!("[{}]", &rest[..end]);
        let after = &rest[end + 1..];
        let port = after.strip_prefix(':');
        (host, port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (s.to_string(), None),
        }
    };
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return err(format!("bad host {host:?}"));
    }
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| UriError(format!("bad port {p:?}")))?,
        ),
        None => None,
    };
    Ok((host, port))
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if self.scheme == "tel" {
            write!(f, "{}", self.user.as_deref().unwrap_or(""))?;
        } else {
            if let Some(u) = &self.user {
                write!(f, "{u}@")?;
            }
            write!(f, "{}", self.host)?;
            if let Some(p) = self.port {
                write!(f, ":{p}")?;
            }
        }
        for (k, v) in &self.params {
            match v {
                Some(v) => write!(f, ";{k}={v}")?,
                None => write!(f, ";{k}")?,
            }
        }
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

/// A From/To/Contact/Route value: optional display name, URI and header
/// parameters (e.g. `tag`, `expires`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    /// The URI text, verbatim.
    pub uri: String,
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    /// Parses `"Display" <uri>;params`, `Display <uri>` or `uri;params`.
    pub fn parse(s: &str) -> Result<Self, UriError> {
        let s = s.trim();
        if s.is_empty() {
            return err("empty address");
        }
        let (display, after_display) = if let Some(rest) = s.strip_prefix('"') {
            let mut end = None;
            let mut escaped = false;
            for (i, c) in rest.char_indices() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = Some(i);
                    break;
                }
            }
            let end = end.ok_or_else(|| UriError("unterminated quoted display name".into()))?;
            (Some(rest[..end].to_string()), rest[end + 1..].trim_start())
        } else if let Some(lt) = s.find('<') {
            let d = s[..lt].trim();
            (
                if d.is_empty() {
                    None
                } else {
                    Some(d.to_string())
                },
                &s[lt..],
            )
        } else {
            (None, s)
        };
        if let Some(rest) = after_display.strip_prefix('<') {
            let end = rest
                .find('>')
                .ok_or_else(|| UriError("missing '>' in address".into()))?;
            let uri = rest[..end].trim().to_string();
            if uri.is_empty() {
                return err("empty URI in address");
            }
            let tail = rest[end + 1..].trim();
            let params = match tail.strip_prefix(';') {
                Some(p) => parse_params(p)?,
                None if tail.is_empty() => Vec::new(),
                None => return err("garbage after address"),
            };
            Ok(Self {
                display,
                uri,
                params,
            })
        } else {
            if display.is_some() {
                return err("display name without <URI>");
            }
            // addr-spec: header parameters follow the first ';'.
            let (uri, params) = after_display.split_once(';').unwrap_or((after_display, ""));
            let uri = uri.trim();
            if uri.contains(char::is_whitespace) {
                return err("whitespace in address");
            }
            Ok(Self {
                display: None,
                uri: uri.to_string(),
                params: parse_params(params)?,
            })
        }
    }

    /// The value of header parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// The URI parsed (sip/sips/tel only).
    pub fn sip_uri(&self) -> Result<SipUri, UriError> {
        SipUri::parse(&self.uri)
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "\"{}\" ", d.replace('\\', "\\\\").replace('"', "\\\""))?;
        }
        write!(f, "<{}>", self.uri)?;
        for (k, v) in &self.params {
            match v {
                Some(v) => write!(f, ";{k}={v}")?,
                None => write!(f, ";{k}")?,
            }
        }
        Ok(())
    }
}

/// The `tag` parameter of a From/To value.
pub fn header_tag(v: &str) -> Option<String> {
    NameAddr::parse(v).ok()?.param("tag").map(str::to_string)
}

/// One Via value: `SIP/2.0/UDP host:port;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub version: String,
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<(String, Option<String>)>,
}

impl Via {
    /// Parses one via-parm.
    pub fn parse(s: &str) -> Result<Self, UriError> {
        let s = s.trim();
        // sent-protocol allows LWS around each '/' (RFC 3261 §25.1):
        // "SIP / 2.0 / UDP host". Collect name, version and transport.
        let mut parts: Vec<String> = Vec::new();
        let mut slashes = 0;
        let mut cur = String::new();
        let mut rest = "";
        for (i, c) in s.char_indices() {
            if c == '/' {
                slashes += 1;
                parts.push(std::mem::take(&mut cur));
                if slashes > 2 {
                    return err("bad Via protocol");
                }
            } else if c.is_whitespace() {
                if slashes == 2 && !cur.is_empty() {
                    rest = &s[i..];
                    break;
                }
            } else {
                cur.push(c);
            }
        }
        if slashes != 2 || rest.is_empty() {
            return err("bad Via protocol");
        }
        parts.push(cur);
        if parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(is_token_char))
        {
            return err("bad Via protocol");
        }
        let rest = rest.trim();
        let (hostport, params) = rest.split_once(';').unwrap_or((rest, ""));
        let (host, port) = split_hostport(hostport.trim())?;
        Ok(Self {
            version: format!("{}/{}", parts[0], parts[1]),
            transport: parts[2].to_ascii_uppercase(),
            host,
            port,
            params: parse_params(params)?,
        })
    }

    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sip_uri_with_params() {
        let u = SipUri::parse("sip:201@10.0.0.1:5062;transport=tcp;lr").unwrap();
        assert_eq!(u.user.as_deref(), Some("201"));
        assert_eq!(u.host, "10.0.0.1");
        assert_eq!(u.port, Some(5062));
        assert_eq!(u.param("transport"), Some("tcp"));
        assert_eq!(u.param("lr"), Some(""));
        assert_eq!(u.to_string(), "sip:201@10.0.0.1:5062;transport=tcp;lr");
    }

    #[test]
    fn unknown_scheme_is_an_error() {
        let e = SipUri::parse("nobodyknowsthisscheme:totallyopaquecontent").unwrap_err();
        assert!(e.0.starts_with("unsupported scheme"));
    }

    #[test]
    fn name_addr_forms() {
        let a = NameAddr::parse("\"Joe \\\"J\\\"\" <sip:joe@x>;tag=1").unwrap();
        assert_eq!(a.display.as_deref(), Some("Joe \\\"J\\\""));
        assert_eq!(a.uri, "sip:joe@x");
        assert_eq!(a.param("tag"), Some("1"));
        let b = NameAddr::parse("sip:caller@example.net;tag=2").unwrap();
        assert_eq!(b.uri, "sip:caller@example.net");
        assert_eq!(b.param("tag"), Some("2"));
        assert!(NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse("\"Joe\" <sip:joe@example.org>;;;;").is_err());
    }

    #[test]
    fn via_forms() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.param("branch"), Some("z9hG4bK1"));
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(Via::parse("SIP/2.0/UDP [2001:db8::10]:5070;branch=z").is_ok());
    }
}
