package render

// DefaultLayout is the layout of campaigns that bring none, and a starting
// point for custom ones. It is built for mail clients rather than browsers:
// presentation tables, inline styles (the <style> block only adds the
// phone and dark-mode refinements that clients which honour it can use),
// a 600px column that shrinks on phones, system fonts, and colours chosen
// so that clients which invert colours on their own still give readable
// contrast. The footer says why the reader gets the mail and carries the
// unsubscribe and preferences links and the postal address.
const DefaultLayout = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="x-apple-disable-message-reformatting">
<meta name="format-detection" content="telephone=no, date=no, address=no, email=no">
<meta name="color-scheme" content="light dark">
<meta name="supported-color-schemes" content="light dark">
<title>{{.Campaign.Subject}}</title>
<style>
:root { color-scheme: light dark; supported-color-schemes: light dark; }
body { margin: 0 !important; padding: 0 !important; width: 100% !important; -webkit-text-size-adjust: 100%; -ms-text-size-adjust: 100%; }
table { border-collapse: collapse; mso-table-lspace: 0pt; mso-table-rspace: 0pt; }
img { border: 0; outline: none; text-decoration: none; -ms-interpolation-mode: bicubic; max-width: 100%; height: auto; }
.hr-body h1 { font-size: 26px; line-height: 1.25; margin: 0 0 16px; }
.hr-body h2 { font-size: 21px; line-height: 1.3; margin: 28px 0 12px; }
.hr-body h3 { font-size: 18px; line-height: 1.35; margin: 24px 0 8px; }
.hr-body p, .hr-body ul, .hr-body ol, .hr-body table, .hr-body pre { margin: 0 0 16px; }
.hr-body li { margin: 0 0 6px; }
.hr-body a { color: #1d4ed8; }
.hr-body blockquote { margin: 0 0 16px; padding: 4px 0 4px 16px; border-left: 4px solid #d1d5db; color: #4b5563; }
.hr-body pre { padding: 12px; background-color: #f3f4f6; border-radius: 4px; overflow-x: auto; font-size: 14px; }
.hr-body code { font-family: SFMono-Regular, Menlo, Consolas, monospace; font-size: 90%; }
.hr-body th, .hr-body td { border: 1px solid #e5e7eb; padding: 6px 10px; text-align: left; }
.hr-body img { display: block; }
.hr-body hr { border: 0; border-top: 1px solid #e5e7eb; margin: 24px 0; }
@media only screen and (max-width: 620px) {
  .hr-container { width: 100% !important; }
  .hr-outer { padding: 0 !important; }
  .hr-card { border-radius: 0 !important; padding: 24px 18px !important; }
  .hr-pad { padding-left: 18px !important; padding-right: 18px !important; }
  .hr-body h1 { font-size: 23px !important; }
}
@media (prefers-color-scheme: dark) {
  .hr-page { background-color: #111315 !important; }
  .hr-card { background-color: #1c1f23 !important; color: #e8eaed !important; }
  .hr-body a { color: #8ab4f8 !important; }
  .hr-body blockquote { color: #bdc1c6 !important; border-left-color: #5f6368 !important; }
  .hr-body pre { background-color: #2a2e33 !important; }
  .hr-head, .hr-foot, .hr-foot a { color: #9aa0a6 !important; }
}
[data-ogsc] .hr-card { color: #e8eaed !important; }
[data-ogsc] .hr-body a { color: #8ab4f8 !important; }
</style>
</head>
<body class="hr-page" style="margin:0;padding:0;width:100%;background-color:#eef0f3;">
<table role="presentation" class="hr-page" width="100%" cellpadding="0" cellspacing="0" border="0" style="width:100%;background-color:#eef0f3;">
<tr>
<td class="hr-outer" align="center" style="padding:24px 12px;">
<table role="presentation" class="hr-container" width="600" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:600px;margin:0 auto;">
<tr>
<td class="hr-head hr-pad" style="padding:4px 32px 14px;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:14px;line-height:20px;font-weight:600;color:#4b5563;">{{.Publisher}}</td>
</tr>
<tr>
<td class="hr-card hr-body" style="padding:32px;background-color:#ffffff;border-radius:8px;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.6;color:#1f2328;word-wrap:break-word;overflow-wrap:break-word;">
{{.Body}}
</td>
</tr>
<tr>
<td class="hr-foot hr-pad" align="center" style="padding:24px 32px 8px;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:12px;line-height:18px;color:#6b7280;text-align:center;">
<p style="margin:0 0 10px;">{{if .ListNames}}You receive this because you subscribed to {{.ListNames}} from {{.Publisher}}.{{else}}You receive this because you subscribed to news from {{.Publisher}}.{{end}}</p>
<p style="margin:0 0 10px;"><a href="{{.UnsubscribeURL}}" style="color:#6b7280;text-decoration:underline;">Unsubscribe</a> &nbsp;&middot;&nbsp; <a href="{{.ManageURL}}" style="color:#6b7280;text-decoration:underline;">Manage preferences</a></p>
<p style="margin:0;white-space:pre-line;">{{.PostalAddress}}</p>
</td>
</tr>
</table>
</td>
</tr>
</table>
</body>
</html>
`
