//! The syntax tree of a `.flow` file: what the user wrote, with a span on everything a
//! diagnostic may point at. Nothing here is resolved or checked yet: variables are still
//! templates, names are still strings, durations are still text.

use serde::Serialize;

use crate::plan::Backend;

/// Spans are the diagnostics' type: a problem points into the text without knowing the tree.
pub use crate::diagnostics::Span;

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File {
    pub connections: Vec<ConnectionBinding>,
    pub pipelines: Vec<Pipeline>,
}

/// `let NAME = KIND(args)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionBinding {
    pub name: Ident,
    pub call: ConnectionCall,
}

/// `postgres("url")`, `csv("path", header: true)`, `profile("warehouse")`, `generate(rows: 10)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionCall {
    pub kind: ConnectionKind,
    pub kind_span: Span,
    pub args: Vec<Arg>,
    pub span: Span,
}

/// What a connection call names: a backend by its keyword (`postgres(...)`, `csv(...)`), or a
/// profile. Serialised as the keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionKind {
    Backend(Backend),
    /// A named connection from the profiles file; its URL decides the backend.
    Profile,
}

impl ConnectionKind {
    /// The kind a keyword of the grammar's `connection_kind` rule names: a backend's name or alias
    /// (`plan::BackendInfo::aliases`), else `profile`.
    pub fn from_keyword(keyword: &str) -> Self {
        Backend::from_name(keyword).map_or(Self::Profile, Self::Backend)
    }

    pub fn keyword(self) -> &'static str {
        match self {
            Self::Backend(backend) => backend.name(),
            Self::Profile => "profile",
        }
    }
}

impl Serialize for ConnectionKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.keyword())
    }
}

/// A positional (`"url"`) or named (`rows: 1000`) argument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Literal,
}

/// A literal as written. Strings may hold `${VAR}` parts; a bare `${VAR}` may stand for any literal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Literal {
    pub kind: LiteralKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum LiteralKind {
    String(Template),
    /// The digits as written; converted (and range-checked) where the number is used.
    Number(String),
    /// Digits followed by letters, e.g. `30s`; validated where a duration is expected.
    Duration(String),
    Bool(bool),
    Variable(VariableRef),
}

/// A string with `${VAR}` parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum TemplatePart {
    Text(String),
    Variable(VariableRef),
}

/// `${NAME}` or `${NAME:-default}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariableRef {
    pub name: String,
    pub default: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipeline {
    pub name: Ident,
    pub settings: Vec<Setting>,
    pub sources: Vec<Source>,
    pub transforms: Vec<Transform>,
    pub sinks: Vec<Sink>,
    /// Items the grammar could not place (`paralelism 4`), kept so the checker can name them.
    pub unknown_items: Vec<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "setting", content = "value", rename_all = "snake_case")]
pub enum Setting {
    Parallelism(Literal),
    Timeout(Literal),
}

/// `source NAME = target { options }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    pub name: Ident,
    pub target: Target,
    pub options: Vec<StageOption>,
    pub span: Span,
}

/// `transform NAME = INPUT | step | step ... [{ timeout D }]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transform {
    pub name: Ident,
    pub input: Ident,
    pub steps: Vec<Step>,
    /// `{ timeout 1m }` after the steps.
    pub options: Vec<StageOption>,
    pub span: Span,
}

/// `sink [NAME =] INPUT -> target { options }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sink {
    pub name: Option<Ident>,
    pub input: Ident,
    pub target: Target,
    pub options: Vec<StageOption>,
    pub span: Span,
}

/// Where a source reads or a sink writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    Table {
        connection: Ident,
        table: Literal,
        span: Span,
    },
    Query {
        connection: Ident,
        sql: Literal,
        span: Span,
    },
    Inline(ConnectionCall),
    /// `conn.tables("public.*", exclude: ["audit_*"])`: every table matching a pattern.
    Tables {
        connection: Ident,
        args: Vec<TablesArg>,
        span: Span,
    },
    /// `conn.schema("name")`: where a table set is written, one table per source table.
    Schema {
        connection: Ident,
        schema: Option<Literal>,
        span: Span,
    },
}

/// One argument of `tables(...)`: a pattern (or list of patterns), or `exclude: [...]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TablesArg {
    pub name: Option<Ident>,
    pub values: Vec<Literal>,
    pub span: Span,
}

impl Target {
    pub fn span(&self) -> Span {
        match self {
            Target::Table { span, .. }
            | Target::Query { span, .. }
            | Target::Tables { span, .. }
            | Target::Schema { span, .. } => *span,
            Target::Inline(call) => call.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageOption {
    pub kind: StageOptionKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "option", rename_all = "snake_case")]
pub enum StageOptionKind {
    Partition {
        column: Ident,
        count: Literal,
    },
    /// `incremental on COLUMN`: read only rows past the last run's high-water mark.
    Incremental {
        column: Ident,
    },
    /// `table NAME [as "NEW"] [{ options }]`: one table of a table set.
    Member {
        table: Ident,
        rename: Option<Literal>,
        options: Vec<StageOption>,
    },
    Batch(Literal),
    Timeout(Literal),
    Mode(ModeAst),
    Create {
        if_missing: bool,
    },
    OnError(OnErrorAst),
    MaxRejects(Literal),
    Unknown(Ident),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OnErrorAst {
    Fail,
    Skip,
    /// `reject to conn.table("name")`.
    Reject {
        connection: Ident,
        table: Literal,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ModeAst {
    /// `append`, `replace`, `truncate`, or a misspelling the checker reports.
    Named(Ident),
    /// `mode ${MODE}`: a variable whose value names `append`, `replace` or `truncate`.
    Variable(Literal),
    Upsert {
        keys: Vec<Ident>,
        /// `keep last by COLUMN`: of the rows sharing a key, the one with the largest value.
        #[serde(skip_serializing_if = "Option::is_none")]
        keep_last_by: Option<Ident>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub kind: StepKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", content = "args", rename_all = "snake_case")]
pub enum StepKind {
    Filter(Expr),
    Derive(Vec<(Ident, Expr)>),
    Select(Vec<Ident>),
    Drop(Vec<Ident>),
    Rename(Vec<(Ident, Ident)>),
    Cast(Vec<(Ident, TypeName)>),
    Sql(Literal),
    Unknown(Ident),
}

/// A SQL type as written, e.g. `bigint`, `decimal(12,2)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeName {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "expr", rename_all = "snake_case")]
pub enum ExprKind {
    Column(Ident),
    Literal(Literal),
    Null,
    Unary { op: UnaryOp, operand: Box<Expr> },
    Binary { op: BinaryOp, left: Box<Expr>, right: Box<Expr> },
    IsNull { operand: Box<Expr>, negated: bool },
    InList { operand: Box<Expr>, list: Vec<Expr>, negated: bool },
    Between { operand: Box<Expr>, low: Box<Expr>, high: Box<Expr>, negated: bool },
    Case { operand: Option<Box<Expr>>, branches: Vec<(Expr, Expr)>, otherwise: Option<Box<Expr>> },
    Cast { operand: Box<Expr>, to: TypeName },
    Function { name: Ident, args: Vec<Expr>, star: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Like,
    NotLike,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinaryOp {
    pub fn sql(self) -> &'static str {
        match self {
            Self::Or => "OR",
            Self::And => "AND",
            Self::Eq => "=",
            Self::NotEq => "<>",
            Self::Lt => "<",
            Self::LtEq => "<=",
            Self::Gt => ">",
            Self::GtEq => ">=",
            Self::Like => "LIKE",
            Self::NotLike => "NOT LIKE",
            Self::Concat => "||",
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
        }
    }
}
