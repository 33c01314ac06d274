//! The web CRM's two languages: every string a page shows, in English and Simplified Chinese,
//! and dates, numbers and money written the way each language writes them.
//!
//! Strings live in one table of `(key, English, Chinese)` rows, so a key cannot have one
//! translation without the other; a test checks that every key the templates and handlers
//! use is in the table.

use std::collections::HashMap;
use std::sync::LazyLock;

/// A language of the web CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

impl Lang {
    /// The user's preference (`zh-CN`, `en`, …), if it names a language the CRM speaks.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.starts_with("zh") {
            Some(Lang::ZhCn)
        } else if tag.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The first language of an `Accept-Language` header the CRM speaks, by the header's
    /// order of preference (`q` weights).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut ranked: Vec<(f32, usize, Lang)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut bits = part.split(';');
                let lang = Lang::from_tag(bits.next()?)?;
                let q =
                    bits.find_map(|b| b.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
                (q > 0.0).then_some((q, i, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map(|r| r.2)
    }

    /// The tag stored as a user's preference and put in `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The string for `key`; the key itself when the table lacks it (a test keeps that from
    /// happening).
    pub fn t(self, key: &str) -> &'static str {
        match STRINGS.get(key) {
            Some((en, zh)) => match self {
                Lang::En => en,
                Lang::ZhCn => zh,
            },
            None => {
                tracing::warn!(key, "untranslated key");
                "?"
            }
        }
    }

    /// A label stored in both languages (option lists, plugin titles).
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::ZhCn => zh,
        }
    }

    /// A whole number with thousands separators: `1,234,567`.
    pub fn number(self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if n < 0 {
            out.push('-');
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    /// An amount of yuan kept in fen: `¥12,345.60`.
    pub fn money(self, fen: i64) -> String {
        let sign = if fen < 0 { "-" } else { "" };
        let abs = fen.unsigned_abs();
        format!("{sign}¥{}.{:02}", self.number((abs / 100) as i64), abs % 100)
    }

    /// A moment in the organisation's time zone: `2026-11-30 14:05` style for Chinese,
    /// `30 Nov 2026, 14:05` for English.
    pub fn datetime(self, rfc3339: &str, tz: &jiff::tz::TimeZone) -> String {
        let Ok(ts) = rfc3339.parse::<jiff::Timestamp>() else {
            return rfc3339.to_owned();
        };
        let zoned = ts.to_zoned(tz.clone());
        match self {
            Lang::En => zoned.strftime("%-d %b %Y, %H:%M").to_string(),
            Lang::ZhCn => zoned.strftime("%Y年%-m月%-d日 %H:%M").to_string(),
        }
    }

    /// The day of a moment in the organisation's time zone.
    pub fn date(self, rfc3339: &str, tz: &jiff::tz::TimeZone) -> String {
        let Ok(ts) = rfc3339.parse::<jiff::Timestamp>() else {
            return rfc3339.to_owned();
        };
        let zoned = ts.to_zoned(tz.clone());
        match self {
            Lang::En => zoned.strftime("%-d %b %Y").to_string(),
            Lang::ZhCn => zoned.strftime("%Y年%-m月%-d日").to_string(),
        }
    }
}

/// Whether `key` is in the table.
pub(crate) fn is_key(key: &str) -> bool {
    STRINGS.contains_key(key)
}

static STRINGS: LazyLock<HashMap<&'static str, (&'static str, &'static str)>> =
    LazyLock::new(|| every_string().map(|(k, en, zh)| (*k, (*en, *zh))).collect());

/// A table of strings: key, English, Chinese.
pub(crate) type Strings = &'static [(&'static str, &'static str, &'static str)];

/// Every string of the web CRM: this file's table, and those of the page modules that keep
/// their own.
pub(crate) fn every_string() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    [
        TABLE,
        super::admin_org::STRINGS,
        super::admin_integrations::STRINGS,
        super::imports::STRINGS,
        super::contacts::STRINGS,
    ]
    .into_iter()
    .flatten()
}

/// The strings of the frame and of the pages that keep none of their own.
const TABLE: Strings = &[
    // The frame of every page.
    ("app.name", "Tessera CRM", "Tessera CRM"),
    ("app.skip", "Skip to content", "跳到正文"),
    ("app.menu", "Menu", "菜单"),
    ("app.language", "Language", "语言"),
    ("app.switch_language", "中文", "English"),
    ("app.signed_in_as", "Signed in as", "当前用户"),
    ("app.sign_out", "Sign out", "退出登录"),
    ("app.notifications", "Notifications", "通知"),
    ("app.unread", "unread", "条未读"),
    ("app.live_unavailable", "Live updates are off; reload to see new items.", "实时更新不可用，请刷新页面。"),
    ("app.close", "Close", "关闭"),
    ("nav.home", "Home", "首页"),
    ("nav.customers", "Customers", "客户"),
    ("nav.contacts", "Contacts", "联系人"),
    ("nav.approvals", "Approvals", "审批"),
    ("nav.analysis", "Analysis", "统计分析"),
    ("nav.profile", "My profile", "个人设置"),
    ("nav.plugins", "Plugins", "插件"),
    ("nav.admin", "Administration", "系统管理"),
    // Plugin blocks.
    ("blocks.actions", "Actions", "操作"),
    ("blocks.confirm", "Are you sure?", "确定要执行吗？"),
    ("blocks.empty", "Nothing here yet.", "暂无内容。"),
    ("blocks.location_pending", "Finding your position…", "正在获取位置…"),
    ("blocks.location_found", "Position found (within {} m).", "已获取位置（误差约 {} 米）。"),
    ("blocks.location_failed", "Your position is not available: {}", "无法获取位置：{}"),
    ("blocks.file_too_big", "{} is too large: files of at most {} are accepted.", "{} 太大：文件最大为 {}。"),
    (
        "blocks.files_not_granted",
        "This plugin was not granted storing files; ask an administrator.",
        "该插件未获准存储文件，请联系管理员。",
    ),
    (
        "blocks.file_unreadable",
        "The upload could not be read; choose the file again.",
        "上传的文件无法读取，请重新选择。",
    ),
    (
        "blocks.location_script",
        "needs JavaScript and permission to read the device's position.",
        "需要启用 JavaScript 并允许读取设备位置。",
    ),
    // Errors.
    ("error.title", "Something went wrong", "出错了"),
    (
        "error.upload_too_big",
        "The upload is too large: a file may have at most 10 MB.",
        "上传内容过大：单个文件最大 10 MB。",
    ),
    ("error.not_found", "This page does not exist, or you may not see it.", "页面不存在，或您无权查看。"),
    ("error.forbidden", "You may not do this.", "您没有执行此操作的权限。"),
    ("error.csrf", "This form has expired. Reload the page and send it again.", "表单已过期，请刷新页面后重新提交。"),
    (
        "error.server",
        "The server could not finish this. Try again; if it keeps failing, tell your administrator the reference below.",
        "服务器未能完成此操作。请重试；如果仍然失败，请将下方的参考号告知管理员。",
    ),
    ("error.reference", "Reference", "参考号"),
    ("error.back_home", "Back to the home page", "返回首页"),
    ("error.form", "Please correct the fields marked below.", "请修改下方标出的字段。"),
    // Sign-in.
    ("signin.title", "Sign in", "登录"),
    ("signin.org", "Organisation", "组织"),
    ("signin.org_help", "Leave empty when this server has one organisation.", "服务器只有一个组织时可不填。"),
    ("signin.username", "User name", "用户名"),
    ("signin.password", "Password", "密码"),
    ("signin.submit", "Sign in", "登录"),
    ("signin.failed", "Wrong organisation, user name or password.", "组织、用户名或密码错误。"),
    ("signin.signed_out", "You have signed out.", "您已退出登录。"),
    // Home.
    ("home.title", "Home", "首页"),
    ("home.welcome", "Welcome back", "欢迎回来"),
    ("home.due", "My follow-ups due", "我的待跟进"),
    ("home.due_none", "Nothing is due in the next seven days.", "未来七天没有待跟进的客户。"),
    ("home.approvals", "Approvals waiting for me", "待我审批"),
    ("home.approvals_none", "No approval is waiting for you.", "没有待您审批的事项。"),
    ("home.recent", "Recent activity", "最近动态"),
    ("home.recent_none", "Nothing new.", "暂无动态。"),
    ("home.by_level", "My customers by level", "客户等级构成"),
    ("home.widgets", "From plugins", "插件"),
    // Customers.
    ("customers.title", "Customers", "客户"),
    ("customers.new", "New customer", "新建客户"),
    ("customers.search", "Search", "搜索"),
    ("customers.search_placeholder", "Name, pinyin initials, code or phone", "名称、拼音首字母、编号或电话"),
    ("customers.filter", "Filter", "筛选"),
    ("customers.all_levels", "All levels", "全部等级"),
    ("customers.all_statuses", "All statuses", "全部状态"),
    ("customers.all_owners", "All owners", "全部负责人"),
    ("customers.scope", "Whose", "归属"),
    ("customers.scope_all", "All I may see", "我可见的全部"),
    ("customers.scope_mine", "Mine", "我的"),
    ("customers.none", "No customer matches.", "没有符合条件的客户。"),
    ("customers.next_page", "Next page", "下一页"),
    ("customers.first_page", "First page", "第一页"),
    ("customers.created", "Customer created.", "客户已创建。"),
    ("customers.saved", "Customer saved.", "客户已保存。"),
    ("customers.pending_approval", "This customer waits for approval.", "此客户正在等待审批。"),
    ("customers.select", "Select", "选择"),
    ("customers.bulk", "With the selected customers", "对选中的客户"),
    ("customers.transfer_to", "Transfer to", "转移给"),
    ("customers.transfer", "Transfer", "转移"),
    ("customers.transferred", "Customers transferred.", "客户已转移。"),
    ("customers.transfer_none", "Select at least one customer.", "请至少选择一个客户。"),
    ("customers.export", "Export CSV", "导出 CSV"),
    ("customers.import", "Import", "导入"),
    ("customers.reason", "Reason", "原因"),
    ("customers.select_all", "Select every customer on this page", "全选本页客户"),
    ("customers.pending", "Awaiting approval", "待审批"),
    ("customers.list_label", "Customers found", "客户列表"),
    ("customers.all_industries", "All industries", "全部行业"),
    ("customers.sort", "Sort by", "排序"),
    ("customers.sort_created", "Created", "创建时间"),
    ("customers.sort_updated", "Last changed", "最近修改"),
    ("customers.sort_name", "Name", "名称"),
    ("customers.sort_code", "Code", "编号"),
    ("customers.sort_next", "Next follow-up", "下次跟进"),
    ("customers.sort_last", "Last follow-up", "最近跟进"),
    ("customers.order", "Order", "顺序"),
    ("customers.order_default", "Usual", "默认"),
    ("customers.order_asc", "Ascending", "升序"),
    ("customers.order_desc", "Descending", "降序"),
    ("customers.views", "Saved views", "常用视图"),
    ("customers.view_all", "All customers", "全部客户"),
    ("customers.view_shared", "shared", "共享"),
    ("customers.view_delete", "Delete the view", "删除视图"),
    ("customers.save_view", "Save these filters as a view", "将当前筛选保存为视图"),
    ("customers.view_name", "View name", "视图名称"),
    ("customers.view_share", "Show it to everyone in the company", "对公司所有人可见"),
    ("customers.view_saved", "View saved.", "视图已保存。"),
    ("customers.view_deleted", "View deleted.", "视图已删除。"),
    ("customers.columns", "Columns", "显示列"),
    ("customers.columns_help", "Columns to show besides the name", "除名称外要显示的列"),
    ("customers.columns_apply", "Show these columns", "应用"),
    ("customers.share", "Share", "共享"),
    ("customers.share_with", "Share with", "共享给"),
    ("customers.share_level", "They may", "权限"),
    ("customers.share_read", "Read", "只读"),
    ("customers.share_edit", "Read and edit", "可编辑"),
    ("customers.bulk_shared", "Customers shared.", "客户已共享。"),
    ("customers.bulk_edit", "Change fields", "批量修改"),
    ("customers.set_level", "New level", "新等级"),
    ("customers.set_status", "New status", "新状态"),
    ("customers.set_industry", "New industry", "新行业"),
    ("customers.set_region", "New region", "新地区"),
    ("customers.set_source", "New source", "新来源"),
    ("customers.add_tags", "Add tags", "添加标签"),
    ("customers.remove_tags", "Remove tags", "移除标签"),
    ("customers.unchanged", "Unchanged", "不变"),
    ("customers.apply", "Apply to the selected", "应用到选中客户"),
    ("customers.bulk_edited", "Customers changed.", "客户已批量修改。"),
    ("customers.edit_nothing", "Choose at least one change.", "请至少选择一项修改。"),
    ("customers.choose_colleague", "Choose a colleague.", "请选择同事。"),
    ("field.code", "Code", "编号"),
    ("field.name", "Name", "名称"),
    ("field.kind", "Kind", "类型"),
    ("field.kind.company", "Company", "企业"),
    ("field.kind.person", "Person", "个人"),
    ("field.level", "Level", "等级"),
    ("field.status", "Status", "状态"),
    ("field.industry", "Industry", "行业"),
    ("field.region", "Region", "地区"),
    ("field.source", "Source", "来源"),
    ("field.category", "Category", "分类"),
    ("field.address", "Address", "地址"),
    ("field.website", "Website", "网站"),
    ("field.phone", "Phone", "电话"),
    ("field.phones", "Phones", "电话"),
    ("field.tags", "Tags", "标签"),
    ("field.tags_help", "Separate tags with commas.", "多个标签用逗号分隔。"),
    ("field.notes", "Notes", "备注"),
    ("field.owner", "Owner", "负责人"),
    ("field.department", "Department", "部门"),
    ("field.credit_limit", "Credit limit", "信用额度"),
    ("field.last_follow_up", "Last follow-up", "最近跟进"),
    ("field.next_follow_up", "Next follow-up", "下次跟进"),
    ("field.created_at", "Created", "创建时间"),
    ("field.none", "—", "—"),
    ("form.save", "Save", "保存"),
    ("form.cancel", "Cancel", "取消"),
    ("form.required", "required", "必填"),
    ("form.choose", "Choose…", "请选择…"),
    ("form.not_a_number", "not a number", "不是数字"),
    ("form.custom_fields", "More fields", "更多字段"),
    // The customer page.
    ("customer.card", "Customer", "客户信息"),
    ("customer.contacts", "Contacts", "联系人"),
    ("customer.contacts_none", "No contact yet.", "暂无联系人。"),
    ("customer.contact_title", "Title", "职务"),
    ("customer.reports_to", "Reports to", "上级"),
    ("customer.timeline", "Timeline", "跟进记录"),
    ("customer.timeline_none", "No follow-up yet.", "暂无跟进记录。"),
    ("customer.follow_up", "Log a follow-up", "写跟进"),
    ("customer.follow_up_saved", "Follow-up logged.", "跟进已记录。"),
    ("customer.panels", "From plugins", "插件"),
    ("customer.transfer", "Hand over", "转移客户"),
    ("customer.edit", "Edit", "编辑"),
    ("customer.edit_title", "Edit customer", "编辑客户"),
    (
        "customer.edited_meanwhile",
        "Someone changed this customer while you were editing. Your changes are below; reload the page to see theirs, then save again.",
        "在您编辑期间，其他人修改了此客户。您的修改保留在下方；请刷新页面查看对方的修改后再保存。",
    ),
    (
        "customer.phone_many",
        "This customer has several phones; they are changed through the API or the import.",
        "此客户有多个电话，请通过接口或导入修改。",
    ),
    ("customer.share", "Share", "共享"),
    ("customer.share_with", "Share with", "共享给"),
    ("customer.share_level", "They may", "权限"),
    ("customer.share_read", "see it", "查看"),
    ("customer.share_edit", "see and edit it", "查看和编辑"),
    ("customer.shared", "Customer shared.", "客户已共享。"),
    ("customer.unshared", "Share withdrawn.", "已取消共享。"),
    ("customer.withdraw", "Withdraw", "取消共享"),
    ("customer.duplicates", "Possible duplicates", "疑似重复客户"),
    ("customer.merge", "Merge into this customer", "合并到当前客户"),
    (
        "customer.merge_confirm",
        "Merge it into this customer? Its contacts, follow-ups and phones come over and it is removed.",
        "确定合并吗？其联系人、跟进记录和电话将并入当前客户，原客户将被删除。",
    ),
    ("customer.merged", "Duplicate merged into this customer.", "重复客户已合并。"),
    ("customer.same_name", "same name", "名称相同"),
    ("customer.same_phone", "same phone", "电话相同"),
    ("customer.same_tax_id", "same tax id", "税号相同"),
    ("activity.kind", "Type", "方式"),
    ("activity.kind.call", "Call", "电话"),
    ("activity.kind.visit", "Visit", "拜访"),
    ("activity.kind.email", "Email", "邮件"),
    ("activity.kind.meeting", "Meeting", "会议"),
    ("activity.kind.note", "Note", "备注"),
    ("activity.subject", "Subject", "主题"),
    ("activity.content", "What happened", "跟进内容"),
    ("activity.result", "Result", "结果"),
    ("activity.next", "Follow up again on", "下次跟进日期"),
    ("activity.by", "by", "跟进人"),
    // Profile.
    ("profile.title", "My profile", "个人设置"),
    ("profile.display_name", "Display name", "显示名称"),
    ("profile.email", "Email", "邮箱"),
    ("profile.phone", "Phone", "电话"),
    ("profile.language", "Language", "语言"),
    ("profile.saved", "Profile saved.", "个人设置已保存。"),
    ("profile.password", "Change password", "修改密码"),
    ("profile.current_password", "Current password", "当前密码"),
    ("profile.new_password", "New password", "新密码"),
    ("profile.password_changed", "Password changed; your other sessions were ended.", "密码已修改，其他会话已退出。"),
    ("profile.sessions", "Sessions", "登录会话"),
    ("profile.this_session", "this session", "当前会话"),
    ("profile.end_session", "End", "结束"),
    ("profile.session_ended", "Session ended.", "会话已结束。"),
    ("profile.started", "Started", "开始时间"),
    ("profile.last_seen", "Last seen", "最近活动"),
    ("profile.client", "Browser", "浏览器"),
    // Approvals.
    ("approvals.title", "Approvals", "审批"),
    ("approvals.inbox", "Waiting for me", "待我审批"),
    ("approvals.none", "Nothing waits for you.", "没有待您审批的事项。"),
    ("approvals.subject", "Subject", "事项"),
    ("approvals.submitter", "Submitted by", "提交人"),
    ("approvals.submitted", "Submitted", "提交时间"),
    ("approvals.state", "State", "状态"),
    ("approvals.history", "History", "审批记录"),
    ("approvals.comment", "Comment", "意见"),
    ("approvals.approve", "Approve", "同意"),
    ("approvals.reject", "Reject", "驳回"),
    ("approvals.approved", "Approved.", "已同意。"),
    ("approvals.rejected", "Rejected.", "已驳回。"),
    ("approvals.mine", "Submitted by me", "我发起的"),
    ("approvals.steps", "Steps", "审批步骤"),
    ("approvals.step_current", "waiting", "待审批"),
    ("approvals.step_done", "approved", "已通过"),
    ("approvals.step_skipped", "skipped", "已跳过"),
    ("approvals.fields", "Submitted values", "提交内容"),
    ("approvals.open_subject", "Open the customer", "查看客户"),
    ("approvals.decide", "Your decision", "您的审批意见"),
    ("approvals.state.pending", "Pending", "审批中"),
    ("approvals.state.approved", "Approved", "已通过"),
    ("approvals.state.rejected", "Rejected", "已驳回"),
    ("approvals.state.returned", "Returned", "已退回"),
    ("approvals.state.withdrawn", "Withdrawn", "已撤回"),
    // Analysis.
    ("analysis.title", "Analysis", "统计分析"),
    ("analysis.from", "From", "开始日期"),
    ("analysis.to", "To", "结束日期"),
    ("analysis.period", "By", "统计周期"),
    ("analysis.month", "Month", "按月"),
    ("analysis.week", "Week", "按周"),
    ("analysis.day", "Day", "按日"),
    ("analysis.funnel", "Sales funnel by status", "销售漏斗（按状态）"),
    ("analysis.by_level", "Customers by level", "客户等级构成"),
    ("analysis.by_source", "Customers by source", "客户来源构成"),
    ("analysis.new_customers", "New customers", "新增客户"),
    ("analysis.follow_ups", "Follow-ups per person", "人员跟进统计"),
    ("analysis.person", "Person", "人员"),
    ("analysis.total", "Total", "合计"),
    // Notifications.
    ("notifications.title", "Notifications", "通知"),
    ("notifications.read_all", "Mark all read", "全部标为已读"),
    ("notifications.mark_read", "Mark read", "标为已读"),
    ("notifications.older", "Older", "更早的通知"),
    // Administration.
    ("admin.users", "Users", "用户"),
    ("admin.roles", "Roles", "角色"),
    ("admin.plugins", "Plugins", "插件"),
    ("admin.departments", "Departments", "部门"),
    ("admin.custom_fields", "Custom fields", "自定义字段"),
    ("admin.option_lists", "Option lists", "选项列表"),
    ("admin.code_pattern", "Customer codes", "客户编号规则"),
    ("admin.sign_in_rules", "Sign-in restrictions", "登录限制"),
    ("admin.audit", "Audit log", "审计日志"),
    ("admin.workflows", "Workflows", "审批流程"),
    ("admin.webhooks", "Webhooks", "Webhook 推送"),
    ("admin.new_user", "New user", "新建用户"),
    ("admin.username", "User name", "用户名"),
    ("admin.display_name", "Name", "姓名"),
    ("admin.password", "Initial password", "初始密码"),
    (
        "admin.password_help",
        "At least 12 characters. Tell it to the user; they can change it in their profile.",
        "至少 12 个字符。请告知用户，用户可在个人设置中修改。",
    ),
    ("admin.email", "Email", "邮箱"),
    ("admin.department", "Department", "部门"),
    ("admin.no_department", "No department", "无部门"),
    ("admin.user_roles", "Roles", "角色"),
    ("admin.language", "Language", "语言"),
    ("admin.active", "Active", "启用"),
    ("admin.inactive", "Disabled", "已停用"),
    ("admin.user_created", "User created.", "用户已创建。"),
    ("admin.new_role", "New role", "新建角色"),
    ("admin.role_name", "Role name", "角色名称"),
    ("admin.role_description", "Description", "说明"),
    ("admin.builtin", "built-in", "内置"),
    ("admin.role_users", "Users", "用户数"),
    ("admin.grants", "Permissions", "权限"),
    ("admin.matrix", "What the role may do, and on whose records", "角色可执行的操作及数据范围"),
    ("admin.module", "Module", "模块"),
    ("admin.role_created", "Role created.", "角色已创建。"),
    ("admin.module.customers", "Customers", "客户"),
    ("admin.module.contacts", "Contacts", "联系人"),
    ("admin.module.activities", "Follow-ups", "跟进记录"),
    ("admin.module.org", "Organisation", "组织"),
    ("admin.action.read", "Read", "查看"),
    ("admin.action.create", "Create", "新建"),
    ("admin.action.edit", "Edit", "编辑"),
    ("admin.action.delete", "Delete", "删除"),
    ("admin.action.transfer", "Transfer", "转移"),
    ("admin.action.export", "Export", "导出"),
    ("admin.action.admin", "Administer", "管理"),
    ("admin.scope.none", "—", "—"),
    ("admin.scope.own", "Own", "本人"),
    ("admin.scope.department", "Department", "本部门"),
    ("admin.scope.department_tree", "Department and below", "本部门及下级"),
    ("admin.scope.all", "Everyone's", "全部"),
    ("admin.plugin", "Plugin", "插件"),
    ("admin.version", "Version", "版本"),
    ("admin.state", "State", "状态"),
    ("admin.plugin.enabled", "Enabled", "已启用"),
    ("admin.plugin.disabled", "Disabled", "已停用"),
    ("admin.plugin.tripped", "Stopped after repeated failures", "因多次出错已停用"),
    ("admin.plugin.installed", "Installed", "已安装"),
    ("admin.enable", "Enable…", "启用…"),
    ("admin.disable", "Disable", "停用"),
    ("admin.upgrade", "Upgrade", "升级"),
    ("admin.roll_back", "Roll back", "回滚"),
    ("admin.plugin_enabled", "Plugin enabled.", "插件已启用。"),
    ("admin.plugin_disabled", "Plugin disabled; its records and settings stay.", "插件已停用，其数据和设置仍保留。"),
    ("admin.plugin_upgraded", "Plugin upgraded.", "插件已升级。"),
    ("admin.plugin_rolled_back", "Plugin rolled back.", "插件已回滚。"),
    ("admin.plugin_uninstalled", "Plugin uninstalled.", "插件已卸载。"),
    ("admin.plugin_settings", "Plugin settings", "插件设置"),
    ("admin.plugin_settings_saved", "Settings saved.", "设置已保存。"),
    ("admin.settings", "Settings", "设置"),
    ("admin.uninstall", "Uninstall", "卸载"),
    ("admin.uninstall_keep", "Keep its records", "保留其数据"),
    ("admin.uninstall_drop", "Delete its records", "删除其数据"),
    ("admin.uninstall_data", "Its records", "插件数据"),
    ("admin.secret_kept", "A value is stored; leave empty to keep it.", "已保存一个值；留空则保持不变。"),
    ("admin.back_to_plugins", "Back to plugins", "返回插件列表"),
    ("admin.enable_title", "Enable a plugin", "启用插件"),
    (
        "admin.grant_intro",
        "The plugin asks for what is listed below. It can do only what you grant; a call it is not granted is refused.",
        "插件申请以下权限。插件只能执行您授予的操作，未授权的调用将被拒绝。",
    ),
    ("admin.grant", "Grant and enable", "授权并启用"),
    ("admin.hosts", "Servers it may call", "可访问的服务器"),
    (
        "admin.no_capabilities",
        "This plugin asks for nothing beyond its own records and pages.",
        "此插件只使用自己的数据和页面，无需额外权限。",
    ),
    ("cap.customers_read", "Read the customers and contacts the user may see", "读取用户可见的客户和联系人"),
    ("cap.customers_write", "Create and change customers and contacts", "新建和修改客户及联系人"),
    (
        "cap.customers_transfer",
        "Change customers' owners (claim, release, transfer)",
        "变更客户负责人（领取、释放、转移）",
    ),
    (
        "cap.customers_assign",
        "Decide on its own rules who holds which customer, across the whole organisation (e.g. a public pool)",
        "按插件自己的规则在全公司范围内分配和收回客户（如客户公海）",
    ),
    ("cap.directory_read", "Read the names and departments of colleagues", "读取同事的姓名和部门"),
    ("cap.activities_write", "Log follow-ups on customers' timelines", "在客户跟进记录中写入跟进"),
    ("cap.notify", "Send notifications to users", "向用户发送通知"),
    ("cap.workflow", "Start approvals and follow their outcome", "发起审批并跟踪结果"),
    ("cap.http_outbound", "Call the servers listed below over the internet", "访问下方列出的外部服务器"),
    ("cap.http_inbound", "Receive webhooks from outside systems", "接收外部系统的回调"),
    ("cap.schedule", "Run scheduled jobs", "运行定时任务"),
    ("cap.events_subscribe", "Be told of events in the CRM", "接收 CRM 中的事件"),
    ("cap.events_publish", "Publish events of its own", "发布自己的事件"),
    ("cap.other", "A capability of this host version", "本版本主机的其他权限"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_every_string_is_written_in_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for (key, en, zh) in every_string() {
            assert!(seen.insert(*key), "{key} is in the table twice");
            assert!(!en.trim().is_empty() && !zh.trim().is_empty(), "{key} lacks a translation");
        }
    }

    #[test]
    fn accept_language_is_read_by_preference() {
        assert_eq!(Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::ZhCn));
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9,zh;q=0.8"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("fr;q=1, zh-TW;q=0.5, en;q=0.7"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(Lang::from_accept_language("en;q=0, zh"), Some(Lang::ZhCn));
    }

    #[test]
    fn numbers_money_and_dates_read_as_each_language_writes_them() {
        assert_eq!(Lang::En.number(1_234_567), "1,234,567");
        assert_eq!(Lang::En.number(-999), "-999");
        assert_eq!(Lang::En.number(1000), "1,000");
        assert_eq!(Lang::ZhCn.money(1_234_560), "¥12,345.60");
        assert_eq!(Lang::En.money(-5), "-¥0.05");
        let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").expect("tz");
        assert_eq!(Lang::ZhCn.datetime("2026-11-30T06:05:00Z", &shanghai), "2026年11月30日 14:05");
        assert_eq!(Lang::En.datetime("2026-11-30T06:05:00Z", &shanghai), "30 Nov 2026, 14:05");
        assert_eq!(Lang::En.date("2026-11-30T18:00:00Z", &shanghai), "1 Dec 2026");
    }
}
