//! The Thrift parser: tokens → [`Document`], by recursive descent over Apache's grammar
//! (includes, namespaces, consts, typedefs, enums, structs, unions, exceptions, services,
//! annotations, doc comments, `,`/`;` separators).

use std::sync::Arc;

use super::ast::*;
use super::lexer::{Token, TokenKind, tokenize};
use crate::diagnostic::{Diagnostic, SourceFile, Span};

/// What [`parse`] returns: the document and its warnings.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The syntax tree.
    pub document: Document,
    /// Warnings (missing or negative field ids, ignored constructs).
    pub warnings: Vec<Diagnostic>,
}

/// Parses one file.
pub fn parse(file: &Arc<SourceFile>) -> Result<Parsed, Diagnostic> {
    let tokens = tokenize(file)?;
    let mut p = Parser {
        file,
        tokens,
        pos: 0,
        warnings: Vec::new(),
        depth: 0,
    };
    let document = p.document()?;
    Ok(Parsed {
        document,
        warnings: p.warnings,
    })
}

type PResult<T> = Result<T, Diagnostic>;

struct Parser<'a> {
    file: &'a Arc<SourceFile>,
    tokens: Vec<Token>,
    pos: usize,
    warnings: Vec<Diagnostic>,
    /// Nesting of types and constant values being parsed (bounded: no stack overflow).
    depth: usize,
}

/// The deepest nesting of container types or constant values accepted.
const MAX_NESTING: usize = 64;

fn describe(kind: &TokenKind) -> String {
    match kind {
        TokenKind::Ident(s) => format!("`{s}`"),
        TokenKind::Int(v) => format!("number `{v}`"),
        TokenKind::Double(v) => format!("number `{v}`"),
        TokenKind::Str(s) => format!("string \"{s}\""),
        TokenKind::Doc(_) => "a doc comment".to_owned(),
        TokenKind::Punct(c) => format!("`{c}`"),
        TokenKind::Eof => "end of file".to_owned(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn peek_kind(&self) -> &TokenKind {
        &self.tokens[self.pos].kind
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if t.kind != TokenKind::Eof {
            self.pos += 1;
        }
        t
    }

    fn error(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.file, span, message)
    }

    fn unexpected(&self, expected: &str) -> Diagnostic {
        let t = self.tokens[self.pos..]
            .iter()
            .find(|t| !matches!(t.kind, TokenKind::Doc(_)))
            .unwrap_or(&self.tokens[self.tokens.len() - 1]);
        self.error(
            t.span,
            format!("expected {expected}, found {}", describe(&t.kind)),
        )
    }

    /// Doc comments before an element; the last one wins, stray ones are dropped.
    fn take_doc(&mut self) -> Option<Doc> {
        let mut doc = None;
        while let TokenKind::Doc(text) = self.peek_kind() {
            let text = text.clone();
            let span = self.bump().span;
            doc = Some(Doc { text, span });
        }
        doc
    }

    fn skip_docs(&mut self) {
        self.take_doc();
    }

    fn at_keyword(&self, kw: &str) -> bool {
        matches!(self.peek_kind(), TokenKind::Ident(s) if s == kw)
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        let hit = self.at_keyword(kw);
        if hit {
            self.bump();
        }
        hit
    }

    /// Consumes `c` (and any doc comments before it) if it comes next; otherwise consumes
    /// nothing, so a doc comment stays for the element it documents.
    fn eat_punct(&mut self, c: char) -> Option<Span> {
        let mut i = self.pos;
        while matches!(self.tokens[i].kind, TokenKind::Doc(_)) {
            i += 1;
        }
        match self.tokens[i].kind {
            TokenKind::Punct(p) if p == c => {
                self.pos = i + 1;
                Some(self.tokens[i].span)
            }
            _ => None,
        }
    }

    fn expect_punct(&mut self, c: char, context: &str) -> PResult<Span> {
        self.eat_punct(c)
            .ok_or_else(|| self.unexpected(&format!("`{c}` {context}")))
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        self.skip_docs();
        match self.peek_kind().clone() {
            TokenKind::Ident(name) => {
                let span = self.bump().span;
                Ok(Ident { name, span })
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// An optional `,` or `;`.
    fn separator(&mut self) {
        if self.eat_punct(',').is_none() {
            self.eat_punct(';');
        }
    }

    fn document(&mut self) -> PResult<Document> {
        let mut doc = Document::default();
        loop {
            let comment = self.take_doc();
            let TokenKind::Ident(word) = self.peek_kind().clone() else {
                if self.peek_kind() == &TokenKind::Eof {
                    return Ok(doc);
                }
                return Err(self.unexpected("a definition (`struct`, `service`, `enum`, …)"));
            };
            match word.as_str() {
                "include" => {
                    let start = self.bump().span;
                    match self.peek_kind().clone() {
                        TokenKind::Str(path) => {
                            let end = self.bump().span;
                            doc.includes.push(Include {
                                path,
                                span: start.to(end),
                            });
                        }
                        _ => return Err(self.unexpected("the included file's path in quotes")),
                    }
                    self.separator();
                }
                "cpp_include" => {
                    self.bump();
                    if !matches!(self.peek_kind(), TokenKind::Str(_)) {
                        return Err(self.unexpected("a path in quotes after `cpp_include`"));
                    }
                    self.bump();
                    self.separator();
                }
                "namespace" => {
                    self.bump();
                    let scope = match self.eat_punct('*') {
                        Some(span) => Ident {
                            name: "*".to_owned(),
                            span,
                        },
                        None => self.ident("a namespace scope (`rs`, `py`, `*`, …)")?,
                    };
                    let name = self.ident("a namespace name")?;
                    let annotations = self.annotations()?;
                    doc.namespaces.push(Namespace {
                        scope,
                        name,
                        annotations,
                    });
                    self.separator();
                }
                "const" => {
                    let c = self.constant(comment)?;
                    doc.definitions.push(Definition::Const(c));
                }
                "typedef" => {
                    self.bump();
                    let ty = self.ty()?;
                    let name = self.ident("the typedef's name")?;
                    let annotations = self.annotations()?;
                    self.separator();
                    doc.definitions.push(Definition::Typedef(Typedef {
                        doc: comment,
                        ty,
                        name,
                        annotations,
                    }));
                }
                "enum" => {
                    let e = self.enumeration(comment)?;
                    doc.definitions.push(Definition::Enum(e));
                }
                "struct" | "union" | "exception" => {
                    let s = self.struct_like(comment)?;
                    doc.definitions.push(Definition::Struct(s));
                }
                "service" => {
                    let s = self.service(comment)?;
                    doc.definitions.push(Definition::Service(s));
                }
                "senum" => {
                    return Err(self
                        .error(
                            self.peek().span,
                            "`senum` is not supported (removed from Thrift)",
                        )
                        .with_help("use an `enum`, or `string` constants"));
                }
                _ => {
                    return Err(self.unexpected(
                        "a definition (`include`, `namespace`, `const`, `typedef`, `enum`, `struct`, `union`, `exception` or `service`)",
                    ));
                }
            }
        }
    }

    fn annotations(&mut self) -> PResult<Vec<Annotation>> {
        let mut out = Vec::new();
        if self.eat_punct('(').is_none() {
            return Ok(out);
        }
        loop {
            if self.eat_punct(')').is_some() {
                return Ok(out);
            }
            let key = self.ident("an annotation key or `)`")?;
            let (value, value_span) = if self.eat_punct('=').is_some() {
                self.skip_docs();
                match self.peek_kind().clone() {
                    TokenKind::Str(v) => (v, self.bump().span),
                    _ => return Err(self.unexpected("the annotation's value in quotes")),
                }
            } else {
                (String::new(), key.span)
            };
            out.push(Annotation {
                key,
                value,
                value_span,
            });
            self.separator();
        }
    }

    fn ty(&mut self) -> PResult<Type> {
        self.nested(Self::ty_inner)
    }

    /// Runs `f` one nesting level deeper, failing past [`MAX_NESTING`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_NESTING {
            let span = self.peek().span;
            return Err(self.error(span, format!("nesting deeper than {MAX_NESTING} levels")));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn ty_inner(&mut self) -> PResult<Type> {
        let name = self.ident("a type")?;
        let start = name.span;
        let kind = match name.name.as_str() {
            "list" | "set" => {
                self.expect_punct('<', &format!("after `{}`", name.name))?;
                let elem = self.ty()?;
                self.expect_punct('>', &format!("to close `{}<…>`", name.name))?;
                if name.name == "list" {
                    TypeKind::List(Box::new(elem))
                } else {
                    TypeKind::Set(Box::new(elem))
                }
            }
            "map" => {
                self.expect_punct('<', "after `map`")?;
                let k = self.ty()?;
                self.expect_punct(',', "between the map's key and value types")?;
                let v = self.ty()?;
                self.expect_punct('>', "to close `map<…>`")?;
                TypeKind::Map(Box::new(k), Box::new(v))
            }
            "void" => {
                return Err(self.error(start, "`void` is only allowed as a method's return type"));
            }
            other => match BaseType::from_name(other) {
                Some(b) => TypeKind::Base(b),
                None => TypeKind::Named(name),
            },
        };
        let end = self.tokens[self.pos.saturating_sub(1)].span;
        let annotations = self.annotations()?;
        Ok(Type {
            kind,
            annotations,
            span: start.to(end),
        })
    }

    fn const_value(&mut self) -> PResult<ConstValue> {
        self.nested(Self::const_value_inner)
    }

    fn const_value_inner(&mut self) -> PResult<ConstValue> {
        self.skip_docs();
        let t = self.bump();
        let kind = match t.kind {
            TokenKind::Int(v) => ConstKind::Int(v),
            TokenKind::Double(v) => ConstKind::Double(v),
            TokenKind::Str(s) => ConstKind::Str(s),
            TokenKind::Ident(s) => ConstKind::Ident(s),
            TokenKind::Punct('[') => {
                let mut items = Vec::new();
                while self.eat_punct(']').is_none() {
                    if self.peek_kind() == &TokenKind::Eof {
                        return Err(self.unexpected("`]` to close the list"));
                    }
                    items.push(self.const_value()?);
                    self.separator();
                }
                ConstKind::List(items)
            }
            TokenKind::Punct('{') => {
                let mut entries = Vec::new();
                while self.eat_punct('}').is_none() {
                    if self.peek_kind() == &TokenKind::Eof {
                        return Err(self.unexpected("`}` to close the map"));
                    }
                    let k = self.const_value()?;
                    self.expect_punct(':', "between a map key and its value")?;
                    let v = self.const_value()?;
                    entries.push((k, v));
                    self.separator();
                }
                ConstKind::Map(entries)
            }
            other => {
                return Err(self.error(
                    t.span,
                    format!("expected a constant value, found {}", describe(&other)),
                ));
            }
        };
        let end = self.tokens[self.pos.saturating_sub(1)].span;
        Ok(ConstValue {
            kind,
            span: t.span.to(end),
        })
    }

    fn constant(&mut self, doc: Option<Doc>) -> PResult<Const> {
        self.bump();
        let ty = self.ty()?;
        let name = self.ident("the constant's name")?;
        self.expect_punct('=', &format!("after constant `{}`", name.name))?;
        let value = self.const_value()?;
        let annotations = self.annotations()?;
        self.separator();
        Ok(Const {
            doc,
            ty,
            name,
            value,
            annotations,
        })
    }

    fn enumeration(&mut self, doc: Option<Doc>) -> PResult<Enum> {
        self.bump();
        let name = self.ident("the enum's name")?;
        self.expect_punct('{', &format!("to open enum `{}`", name.name))?;
        let mut values = Vec::new();
        loop {
            let vdoc = self.take_doc();
            if self.eat_punct('}').is_some() {
                break;
            }
            let vname = self.ident(&format!(
                "an enum value or `}}` to close enum `{}`",
                name.name
            ))?;
            let value = if self.eat_punct('=').is_some() {
                self.skip_docs();
                match self.peek_kind().clone() {
                    TokenKind::Int(v) => Some((v, self.bump().span)),
                    _ => return Err(self.unexpected("an integer value")),
                }
            } else {
                None
            };
            let annotations = self.annotations()?;
            self.separator();
            values.push(EnumValue {
                doc: vdoc,
                name: vname,
                value,
                annotations,
            });
        }
        let annotations = self.annotations()?;
        self.separator();
        Ok(Enum {
            doc,
            name,
            values,
            annotations,
        })
    }

    fn struct_like(&mut self, doc: Option<Doc>) -> PResult<StructLike> {
        let kw = self.bump();
        let kind = match kw.kind {
            TokenKind::Ident(ref k) if k == "union" => StructKind::Union,
            TokenKind::Ident(ref k) if k == "exception" => StructKind::Exception,
            _ => StructKind::Struct,
        };
        let name = self.ident("a name")?;
        self.eat_keyword("xsd_all");
        self.expect_punct('{', &format!("to open `{}`", name.name))?;
        let fields = self.fields('}', &name.name)?;
        let annotations = self.annotations()?;
        self.separator();
        Ok(StructLike {
            doc,
            kind,
            name,
            fields,
            annotations,
        })
    }

    /// Fields up to and including `close`.
    fn fields(&mut self, close: char, owner: &str) -> PResult<Vec<Field>> {
        let mut fields = Vec::new();
        let mut implicit_id = 0;
        loop {
            let doc = self.take_doc();
            if self.eat_punct(close).is_some() {
                return Ok(fields);
            }
            if self.peek_kind() == &TokenKind::Eof {
                return Err(self.unexpected(&format!("`{close}` to close `{owner}`")));
            }
            let id = match self.peek_kind().clone() {
                TokenKind::Int(v) => {
                    let span = self.bump().span;
                    self.expect_punct(':', "after the field id")?;
                    Some((v, span))
                }
                _ => None,
            };
            let requiredness = if self.eat_keyword("required") {
                Requiredness::Required
            } else if self.eat_keyword("optional") {
                Requiredness::Optional
            } else {
                Requiredness::Default
            };
            let ty = self.ty()?;
            let name = self.ident("the field's name")?;
            match id {
                None => {
                    implicit_id -= 1;
                    self.warnings.push(
                        Diagnostic::warning(
                            self.file,
                            name.span,
                            format!(
                                "field `{}` of `{owner}` has no id; it gets the implicit id {implicit_id}",
                                name.name
                            ),
                        )
                        .with_help("give every field an explicit positive id"),
                    );
                }
                Some((v, span)) if v <= 0 => self.warnings.push(Diagnostic::warning(
                    self.file,
                    span,
                    format!(
                        "field `{}` of `{owner}` has the non-positive id {v}",
                        name.name
                    ),
                )),
                Some((v, span)) if v > i16::MAX as i64 => {
                    return Err(self.error(
                        span,
                        format!(
                            "field id {v} of `{}` does not fit in 16 bits (max 32767)",
                            name.name
                        ),
                    ));
                }
                _ => {}
            }
            let default = if self.eat_punct('=').is_some() {
                Some(self.const_value()?)
            } else {
                None
            };
            let annotations = self.annotations()?;
            self.separator();
            fields.push(Field {
                doc,
                id: id.or(Some((implicit_id, name.span))),
                requiredness,
                ty,
                name,
                default,
                annotations,
            });
        }
    }

    fn service(&mut self, doc: Option<Doc>) -> PResult<Service> {
        self.bump();
        let name = self.ident("the service's name")?;
        let extends = if self.eat_keyword("extends") {
            Some(self.ident("the parent service's name")?)
        } else {
            None
        };
        self.expect_punct('{', &format!("to open service `{}`", name.name))?;
        let mut functions = Vec::new();
        loop {
            let fdoc = self.take_doc();
            if self.eat_punct('}').is_some() {
                break;
            }
            if self.peek_kind() == &TokenKind::Eof {
                return Err(self.unexpected(&format!("`}}` to close service `{}`", name.name)));
            }
            functions.push(self.function(fdoc)?);
        }
        let annotations = self.annotations()?;
        self.separator();
        Ok(Service {
            doc,
            name,
            extends,
            functions,
            annotations,
        })
    }

    fn function(&mut self, doc: Option<Doc>) -> PResult<Function> {
        let oneway = self.eat_keyword("oneway");
        let returns = if self.eat_keyword("void") {
            None
        } else {
            Some(self.ty()?)
        };
        let name = self.ident("the method's name")?;
        self.expect_punct('(', &format!("after method `{}`", name.name))?;
        let params = self.fields(')', &name.name)?;
        let throws = if self.eat_keyword("throws") {
            self.expect_punct('(', "after `throws`")?;
            self.fields(')', &name.name)?
        } else {
            Vec::new()
        };
        let annotations = self.annotations()?;
        self.separator();
        Ok(Function {
            doc,
            oneway,
            returns,
            name,
            params,
            throws,
            annotations,
        })
    }
}
